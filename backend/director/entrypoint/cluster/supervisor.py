"""Starts Redis, PostgreSQL, ``CLUSTER_WORKERS`` servers and nginx; stops them all on Ctrl+C/SIGTERM.

Redis and PostgreSQL are started only when ``DIRECTOR_MESSAGE_QUEUE`` / ``DB_TYPE=postgres`` do not
name existing ones. Server ``i`` listens on 127.0.0.1:``SERVER_PORT+i``; nginx on
``SERVER_HOST:SERVER_PORT``, where users connect.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request

from director.db import DBType
from director.entrypoint.api.security import default_allowed_hosts
from director.entrypoint.api.settings import ServerSettings
from director.entrypoint.cluster import nginx_config
from director.entrypoint.cluster.services import (
    Child,
    ServiceError,
    free_port,
    start_nginx,
    start_postgres,
    start_redis,
    wait_until,
)
from director.entrypoint.cluster.settings import ClusterSettings

logger = logging.getLogger("director.cluster")

SERVER_START_TIMEOUT_S = 60.0
LOCAL_HOST = "127.0.0.1"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Cluster:
    def __init__(self, settings: ServerSettings, cluster: ClusterSettings):
        self.settings = settings
        self.cluster = cluster
        self.directory = cluster.directory.resolve()
        self.stopping = threading.Event()
        # Stopped in reverse order of start: the servers with nginx (see _start), then what they depend on.
        self._started: list[list[Child]] = []

    @property
    def server_ports(self) -> list[int]:
        return [self.settings.port + i for i in range(1, self.cluster.workers + 1)]

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        try:
            self._start()
            logger.info(
                "Director cluster is listening on %s (%d server processes on ports %d-%d). Ctrl+C stops it.",
                self.settings.url,
                self.cluster.workers,
                self.server_ports[0],
                self.server_ports[-1],
            )
            return self._watch()
        except ServiceError as exc:
            logger.error("%s", exc)
            return 1
        finally:
            self.stop()

    def _watch(self) -> int:
        while not self.stopping.wait(0.5):
            for group in self._started:
                for child in group:
                    if not child.alive():
                        logger.error("%s exited unexpectedly: stopping the cluster", child.name)
                        return 1
        logger.info("stopping the cluster")
        return 0

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = self._server_env()
        servers = [self._server(env, port) for port in self.server_ports]
        self._started.append(servers)
        for server, port in zip(servers, self.server_ports, strict=True):
            url = f"http://{LOCAL_HOST}:{port}"
            wait_until(
                lambda url=url: _answers(url), f"server on port {port}", SERVER_START_TIMEOUT_S, server.alive
            )
            self._check_stop()
        runtime = self.directory / "nginx"
        config = nginx_config.write(
            runtime / "nginx.conf",
            f"{self.settings.host}:{self.settings.port}",
            [f"{LOCAL_HOST}:{port}" for port in self.server_ports],
            runtime,
        )
        # nginx stops together with the servers, not before them: its graceful stop waits for every
        # proxied websocket, and those close only when the servers' drain has sent each running turn's
        # stopped answer and closed them. Stopped first, it waited (then was killed) with the turns still
        # running, and their clients never heard the end. It stops listening at once either way.
        servers.append(start_nginx(config, runtime, LOCAL_HOST, self.settings.port))

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            raise ServiceError("interrupted while starting")

    def _server(self, env: dict[str, str], port: int) -> Child:
        argv = [sys.executable, "-m", "director.entrypoint.api.server"]
        # The servers log to this terminal: their lines are the ones a user reads.
        return Child(f"server :{port}", argv, env={**env, "SERVER_PORT": str(port)}).start()

    def _server_env(self) -> dict[str, str]:
        settings = self.settings
        env = dict(os.environ)
        env["SERVER_HOST"] = LOCAL_HOST  # only nginx faces the network
        # The names users reach nginx by are the names the servers must accept (nginx passes Host on).
        env["DIRECTOR_ALLOWED_HOSTS"] = ",".join(
            settings.allowed_hosts or default_allowed_hosts(settings.host)
        )
        if settings.message_queue is not None:
            env["DIRECTOR_MESSAGE_QUEUE"] = settings.message_queue.get_secret_value()
        else:
            port = free_port()
            self._started.append([start_redis(self.directory / "redis", port)])
            env["DIRECTOR_MESSAGE_QUEUE"] = f"redis://{LOCAL_HOST}:{port}/0"
            self._check_stop()
        if settings.db_type is not DBType.POSTGRES:
            port = free_port()
            pg = start_postgres(
                self.directory / "postgres", port, settings.postgres_user, settings.postgres_db
            )
            self._started.append([pg])
            env.update(
                DB_TYPE=DBType.POSTGRES.value,
                POSTGRES_HOST=LOCAL_HOST,
                POSTGRES_PORT=str(port),
                POSTGRES_USER=settings.postgres_user,
                POSTGRES_DB=settings.postgres_db,
                POSTGRES_PASSWORD="",
            )
            self._check_stop()
        return env

    def stop(self) -> None:
        while self._started:
            group = self._started.pop()
            # Every member of a group gets its signal first, so N servers drain at the same time.
            for child in group:
                if child.alive():
                    assert child.process is not None
                    child.process.send_signal(child.stop_signal)
            for child in group:
                child.stop()
