"""A real, throwaway redis-server for tests: its own temp dir, a free 127.0.0.1 port, and
``stop()``/``start()`` on the same port (an outage and a recovery, as a test needs them).

    redis = start_redis_server()
    redis.url            # redis://127.0.0.1:<port>/0
    redis.stop(); redis.start()
    redis.cleanup()
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from director.entrypoint.cluster.services import Child, free_port, start_redis


class RedisServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="director-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._child: Child | None = None
        atexit.register(self.cleanup)  # a crashed test run must not leave redis-server behind

    def start(self) -> RedisServer:
        self._child = start_redis(self.root, self.port)
        return self

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis_server() -> RedisServer:
    return RedisServer().start()
