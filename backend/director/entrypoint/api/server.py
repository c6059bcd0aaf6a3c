"""Production server: ``python -m director.entrypoint.api.server`` (what ``make run`` starts).

gunicorn with one worker: Socket.IO keeps per-client state in memory, so it needs a single
process (no sticky sessions). ``SERVER_WORKER`` picks how it serves sockets: gevent (the default),
where sockets are greenlets on one hub (thousands per process, ``SERVER_MAX_SOCKETS``) and turns and
requests run in native threads (thread_bridge.py), or gthread, where each open websocket holds one
of ``SERVER_THREADS``.
The app is built inside the worker (not preloaded in the master) so the LLM warm-up thread lives
in the process that serves requests.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
from typing import Any

from gunicorn.app.base import BaseApplication

from director.agents.settings import load_agent_settings
from director.core.budget import load_budget_settings
from director.entrypoint.api.capacity import SocketCapacity, connection_limit, pool_size
from director.entrypoint.api.heap import settle_startup_heap
from director.entrypoint.api.queue_sender import flush_all
from director.entrypoint.api.recovery import finish_interrupted_answers
from director.entrypoint.api.settings import ServerSettings, ServerWorker, load_server_settings
from director.errors import ConfigError
from director.llm.base import BaseLLM
from director.llm.callbacks import load_callback_settings
from director.llm.redact import RedactingFilter, register_secret
from director.log_format import JSONFormatter
from director.mcp.config import load_mcp_servers

logger = logging.getLogger("director.server")

# Signals that stop the worker, each with the drain: SIGTERM (a service manager), SIGINT (Ctrl+C in a
# terminal reaches master and worker alike) and SIGQUIT (what the master sends its worker on SIGINT).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)

# Seconds a stopping worker waits for open connections; `drain` closes websockets well before.
GRACEFUL_TIMEOUT_S = 10
# On SIGTERM, running turns get this long to stop at a safe point by themselves...
STOP_GRACE_S = 0.5
# ...then the ones still running (blocked on a provider) are finished and saved by the drain; all of
# it within this budget, after which a turn that could not be saved is logged with its session.
DRAIN_TIMEOUT_S = 3.0
WORKER_BOOT_ERROR = 3
# File descriptors the gevent worker needs beyond its sockets: the DB, logs, LiteLLM's connections.
SPARE_FILES = 256
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _warmup(llm: Any) -> None:
    try:
        llm.warmup()
    except Exception:
        # A failed warm-up is not fatal: the first real call imports lazily and reports errors.
        logger.exception("LLM warm-up failed")
        return
    # LiteLLM's import was the last of the start-up heap: keep the garbage collector off it (heap.py).
    settle_startup_heap()
    logger.info("LLM layer warmed up")


def build_app(settings: ServerSettings, llm: BaseLLM | None = None) -> tuple[Any, Any]:
    """Create the WSGI app and start the LLM warm-up off the request path."""
    from director.entrypoint.api.app import create_app

    # Under gevent, create_app installs thread_bridge (sockets on the hub, turns in native threads).
    async_mode = "gevent" if settings.worker == ServerWorker.GEVENT else "threading"
    app, socketio = create_app(settings=settings, llm=llm, async_mode=async_mode)
    state = app.extensions["director"]
    if settings.message_queue is None:
        # Before any request: answers a killed server left "in progress" are marked interrupted.
        finish_interrupted_answers(state.db)
    else:
        # Other processes share the database: a "progress" row older than this process may be a turn
        # running elsewhere right now. The turn leases tell them apart (turn_leases.py sweeps for them).
        logger.info(
            "several processes share the database: answers cut by a crash are found by their expired turn lease"
        )
    llm = state.llm
    state.admission.start_reaper()
    # LiteLLM's import takes 2+ s: do it in the background so /health answers at once.
    threading.Thread(target=_warmup, args=(llm,), name="llm-warmup", daemon=True).start()
    return app, socketio


def drain(
    app: Any, socketio: Any, timeout_s: float = DRAIN_TIMEOUT_S, grace_s: float = STOP_GRACE_S
) -> list[str]:
    """Graceful shutdown, in this order: stop the running turns, save their final (stopped) state,
    and only then close the websockets; the caller closes the DB after this returns.

    Returns the sessions whose turn could not be saved in time (each is logged with its session id).
    """
    registry = app.extensions["director"].registry
    deadline = time.monotonic() + timeout_s
    stopping = registry.stop_all()  # new turns are refused from here on
    unsaved: list[str] = []
    if stopping:
        logger.info("shutting down: stopping %d running turn(s)", len(stopping))
        # Most turns stop at their next safe point and save themselves at once...
        if registry.wait_idle(min(grace_s, timeout_s)):
            # ...one waiting for a provider's next chunk may not for seconds: save it from here.
            _save_stopped_turns(registry.engines(), deadline)
            # Turns still starting stop at their first check. The threads of turns saved above may
            # sit in a provider read a while longer: they write nothing more, so they are not waited for.
            while (unsaved := registry.unfinished()) and time.monotonic() < deadline:
                time.sleep(0.02)
        for session_id in unsaved:
            logger.error("shutting down: the turn of session %s could not be saved in time", session_id)
    time.sleep(0.05)  # let the final `chat` events reach the sockets' send queues
    # Admission's disconnect: never waits on a client (one half-way through its handshake never reads).
    socketio.server.eio.disconnect()
    return unsaved


def keep_sockets_closed(socketio: Any, every_s: float = 0.2) -> None:
    """After the drain, until the process exits: close any websocket that still got in (a client
    reconnecting before gunicorn stopped accepting), or it would hold the worker for its whole
    graceful timeout. Their namespace is refused anyway (``ChatNamespace.on_connect``)."""
    while True:
        time.sleep(every_s)
        try:
            socketio.server.eio.disconnect()
        except Exception:
            logger.debug("closing late sockets failed", exc_info=True)


def _save_stopped_turns(engines: dict[str, Any], deadline: float) -> None:
    """Save each turn's stopped state in parallel (one slow write must not hold up the others)."""

    def save(session_id: str, engine: Any) -> None:
        try:
            engine.stop_and_save()
        except Exception:
            logger.exception("shutting down: saving the stopped turn of session %s failed", session_id)

    threads = [
        threading.Thread(target=save, args=item, name="drain-save", daemon=True) for item in engines.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


class DirectorServer(BaseApplication):
    def __init__(self, settings: ServerSettings, llm: BaseLLM | None = None):
        self.settings = settings
        # Built (and validated) by main() in the master; nothing heavy is imported yet, so the
        # forked worker inherits a cheap object and imports LiteLLM itself, off the request path.
        self.llm = llm
        self._app: Any = None
        self._socketio: Any = None
        self._sigterm = threading.Event()
        self._drain_thread: threading.Thread | None = None
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        options = {
            "bind": [f"{self.settings.host}:{self.settings.port}"],
            "workers": 1,
            **self._worker_options(),
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            "timeout": 60,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self.settings.log_level,
            "proc_name": "director",
            "when_ready": self._when_ready,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
            # gunicorn 27 opens a control socket under $HOME by default; two servers would collide.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def _worker_options(self) -> dict[str, Any]:
        if self.settings.worker == ServerWorker.GEVENT:
            from director.entrypoint.api.gevent_worker import UnpatchedGeventWorker

            # Every open socket plus room for REST, the UI and /health (capacity.py).
            return {
                "worker_class": UnpatchedGeventWorker,
                "worker_connections": pool_size(self.settings.max_sockets),
            }
        return {
            "worker_class": "gthread",
            "threads": self.settings.threads,
            # Room for kept-alive HTTP connections beyond the threads busy with websockets.
            "worker_connections": max(1000, self.settings.threads * 2),
        }

    def _when_ready(self, _arbiter: Any) -> None:
        # The one line a user looks for. Printed by the master once the socket is bound.
        logger.info("Director is listening on %s", self.settings.url)

    def _post_worker_init(self, worker: Any) -> None:
        gunicorn_handle_exit = worker.handle_exit
        # Started now, not from the signal handler: starting a thread inside a handler can deadlock
        # on threading's internal locks if the signal interrupted the main thread holding one.
        sigterm = self._sigterm

        def drain_on_sigterm() -> None:
            sigterm.wait()
            if self._app is not None:
                drain(self._app, self._socketio)
                if self.settings.worker == ServerWorker.GEVENT:
                    # gunicorn's gevent loop would wait for every pooled connection (a kept-alive one
                    # holds its slot for the keepalive timeout); everything worth keeping is saved.
                    self._exit_now()
                threading.Thread(
                    target=keep_sockets_closed, args=(self._socketio,), name="late-sockets", daemon=True
                ).start()

        self._drain_thread = threading.Thread(target=drain_on_sigterm, name="drain", daemon=True)
        self._drain_thread.start()

        def on_stop(sig: int, frame: Any) -> None:
            gunicorn_handle_exit(sig, frame)  # stop accepting; finish in-flight requests
            sigterm.set()

        # gunicorn's own SIGINT/SIGQUIT exit skips the drain: running turns were cut unsaved, and open
        # websockets held the worker until the master's SIGKILL ten seconds later.
        for sig in STOP_SIGNALS:
            signal.signal(sig, on_stop)

    def _worker_exit(self, _arbiter: Any, _worker: Any) -> None:
        if not self._sigterm.is_set():
            return  # boot errors and crashes keep gunicorn's own exit path and codes
        # After a drain everything worth keeping is persisted. A normal interpreter exit would now
        # join every leftover worker thread (an abandoned agent's slow fetch, LiteLLM's executors),
        # which can take many seconds: close the DB and leave at once.
        if self._drain_thread is not None:
            # With no socket open, gunicorn's loop ends at once; the running turns still get to save.
            self._drain_thread.join(DRAIN_TIMEOUT_S + 1)
        self._exit_now()

    def _exit_now(self) -> None:
        flush_all()  # the drained turns' final events still reach the other processes (message queue)
        try:
            if self._app is not None:
                self._app.extensions["director"].db.close()
        except Exception:
            logger.exception("closing the DB at shutdown failed")
        try:
            hub = self._app.extensions["director"].mcp_hub if self._app is not None else None
            if hub is not None:
                hub.close(timeout_s=1.0)  # stdio servers are terminated, not orphaned
        except Exception:
            logger.exception("closing the MCP servers at shutdown failed")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def load(self) -> Any:
        try:
            self._app, self._socketio = build_app(self.settings, self.llm)
            # Open sockets may not take every thread, or REST, the UI and /health stop answering.
            admission = self._app.extensions["director"].admission
            app = SocketCapacity(self._app, connection_limit(self.settings), admission)
            if self.settings.worker == ServerWorker.GEVENT:
                from director.entrypoint.api.thread_bridge import ThreadedRequests

                return ThreadedRequests(app)  # REST, the UI and /health off the hub
            return app
        except ConfigError as exc:
            logger.error("Configuration error: %s", exc.message)
            # gunicorn's "worker failed to boot" code: the master stops instead of respawning forever.
            raise SystemExit(WORKER_BOOT_ERROR) from None


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    logging.basicConfig(format=LOG_FORMAT, stream=sys.stderr)
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers:
        handler.setFormatter(JSONFormatter() if log_format == "json" else logging.Formatter(LOG_FORMAT))
    # On the handlers, not on loggers: a logger's filter only sees records logged to that very
    # logger, while every record that reaches stderr (any module, LiteLLM's, tracebacks) passes here.
    for handler in root.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
    # LiteLLM and HTTP client debug output can include request bodies; keep them at warning. Alembic
    # narrates each migration step (director.db.migrate says the one line that matters).
    # httpx2 is the MCP SDK's HTTP client: a line per MCP request otherwise.
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "openai", "alembic", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> int:
    configure_logging()  # before the settings, so a settings error is logged too
    try:
        settings = load_server_settings()
    except ConfigError as exc:
        logger.error("Configuration error: %s", exc.message)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    for secret in (settings.auth_token, settings.postgres_password):
        if secret is not None:
            register_secret(secret.get_secret_value())
    try:
        # Read the LLM settings now, in the master: a bad LITELLM_* value fails here with one line
        # instead of after "listening" from inside gunicorn's worker.
        llm = load_llm()
        load_agent_settings()  # agents read theirs per call; validate them once up front
        load_mcp_servers()  # a bad DIRECTOR_MCP_CONFIG file: one line naming it, before listening
        load_budget_settings()
        load_callback_settings()
    except ConfigError as exc:
        logger.error("Configuration error: %s", exc.message)
        return 2
    try:
        prepare_db(settings)
    except ConfigError as exc:
        logger.error("Configuration error: %s", exc.message)
        return 2
    if problem := message_queue_problem(settings.message_queue_url):
        logger.error("%s", problem)
        return 2
    if settings.worker == ServerWorker.GEVENT:
        raise_open_file_limit(settings.max_sockets)
    if problem := bind_problem(settings.host, settings.port):
        # gunicorn would retry for five seconds, logging two lines a second, then give up.
        logger.error("Cannot listen on %s:%d: %s", settings.host, settings.port, problem)
        return 2
    DirectorServer(settings, llm).run()
    return 0


def prepare_db(settings: ServerSettings) -> None:
    """Migrate the database once, in the master, before the worker serves; a database made by a newer
    Director stops start-up here (``ConfigError``). An unreachable PostgreSQL does not: the server
    starts anyway and the schema is brought up to date on first use, as /health reports meanwhile."""
    from director.db import load_db

    db = load_db(settings)
    try:
        db.prepare()
    except ConfigError:
        raise
    except Exception as exc:
        logger.warning("%s is not reachable yet (%s); its schema is brought up to date on first use", db, exc)
    finally:
        db.close()


def message_queue_problem(url: str | None) -> str | None:
    """One line saying why ``DIRECTOR_MESSAGE_QUEUE`` cannot be used (``None``: unset or reachable)."""
    if url is None:
        return None
    from director.entrypoint.api.message_queue import ping, redacted_url, url_password

    if password := url_password(url):
        register_secret(password)
    if (reason := ping(url)) is None:
        return None
    return (
        f"DIRECTOR_MESSAGE_QUEUE: cannot reach Redis at {redacted_url(url)} ({reason}): "
        "start redis-server, fix the URL, or unset it to run a single process."
    )


def raise_open_file_limit(max_sockets: int) -> None:
    """Let the process open a file per socket: the soft limit is often 1024, the hard one far higher."""
    wanted = pool_size(max_sockets) + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < wanted:
        logger.warning(
            "The open-file limit (%d, see ulimit -Hn) is below the %d that SERVER_MAX_SOCKETS=%d needs: "
            "connections beyond it fail. Raise the limit or lower SERVER_MAX_SOCKETS.",
            soft,
            wanted,
            max_sockets,
        )


def bind_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (``None`` when it can, or cannot tell)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        return f"SERVER_HOST {host!r} does not resolve to an address: set it to 127.0.0.1 or 0.0.0.0."
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn binds: a port left in TIME_WAIT by a previous run is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} is already in use (another Director or another program): stop it, "
                    "or set SERVER_PORT to a free port."
                )
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"SERVER_HOST {host!r} is not an address of this machine: use 127.0.0.1 or 0.0.0.0."
            return None  # e.g. a privileged port: gunicorn reports it in its own words
    return None


def load_llm() -> BaseLLM:
    """The configured LLM (cheap: LiteLLM itself is imported later). Warns when none is configured."""
    from director.llm import get_default_llm

    llm = get_default_llm()
    if not llm.configured:
        logger.warning(
            "No language model is configured: chat turns will answer with setup instructions. "
            "Set LITELLM_CHAT_MODEL (and the provider's key) in .env, see .env.sample."
        )
    return llm


if __name__ == "__main__":
    sys.exit(main())
