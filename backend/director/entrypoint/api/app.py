"""The app factory: wires settings, LLM, DB and agents into a Flask app with the ``/chat`` namespace.

Everything is injectable (tests pass a ScriptedLLM and a temp DB); defaults are read from the
environment here, at the edge, and nowhere deeper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request, send_from_directory
from flask.typing import ResponseReturnValue
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException, NotFound

from director.agents.base import BaseAgent
from director.constants import REPO_ROOT
from director.core.budget import Budget, load_budget_settings
from director.core.metered_llm import UsageMeter
from director.core.reasoning import EngineLimits
from director.core.turn_runner import TurnRunner
from director.core.turns import LocalTurnRegistry, TurnRegistry
from director.db.base import BaseDB
from director.entrypoint.api import wire_json
from director.entrypoint.api.admission import Admission
from director.entrypoint.api.capacity import connection_limit
from director.entrypoint.api.health import ServerHealth, worker_identity
from director.entrypoint.api.packet_guard import PollingPayloadGuard, install_packet_guard
from director.entrypoint.api.routes import api
from director.entrypoint.api.security import HostGuard, HostPolicy, OriginPolicy
from director.entrypoint.api.settings import ServerSettings, load_server_settings
from director.entrypoint.api.socket_io import NAMESPACE, ChatNamespace
from director.entrypoint.api.state import EXTENSION_KEY, ServerState
from director.entrypoint.api.transport_limits import limit_websocket_messages, transport_max_bytes
from director.entrypoint.api.usage_routes import USAGE_KEY  # also adds /usage to `api`
from director.errors import BadPayloadError, NotFoundError, StorageFullError
from director.llm.base import BaseLLM
from director.mcp.startup import mcp_agents

if TYPE_CHECKING:
    from director.mcp.hub import MCPHub
from director.llm.callbacks import install_callbacks
from director.llm.prices import has_price

logger = logging.getLogger(__name__)

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"

NO_FRONTEND_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Director</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Director is running</h1>
<p>The web UI has not been built yet. Run <code>make install</code> (or <code>make run</code>) in the
repository, then reload this page.</p>
<p>The API is available: <a href="/health">/health</a>, <a href="/agent">/agent</a>,
<a href="/config/check">/config/check</a>, and Socket.IO on namespace <code>/chat</code>.</p>
</body></html>
"""


def _agent_classes(
    registry: Mapping[str, type[BaseAgent]] | Iterable[type[BaseAgent]],
) -> list[type[BaseAgent]]:
    if isinstance(registry, Mapping):
        return list(registry.values())
    return list(registry)


def _default_llm() -> BaseLLM:
    from director.llm import get_default_llm

    return get_default_llm()


def _default_db(settings: ServerSettings) -> BaseDB:
    from director.db import load_db

    return load_db(settings)


def _message_queue(settings: ServerSettings) -> dict[str, Any]:
    """Flask-SocketIO's options for ``DIRECTOR_MESSAGE_QUEUE``: none (and no redis import) when unset."""
    if settings.message_queue is None:
        return {}
    from director.entrypoint.api.message_queue import RedisQueue

    return {"client_manager": RedisQueue(settings.message_queue.get_secret_value())}


def _start_queue_listener(socketio: SocketIO) -> None:
    # python-socketio subscribes on the first connection; subscribe now so /health tells the truth
    # from the start and events published before any client connected are not a special case.
    server = socketio.server
    if not server.manager_initialized:
        server.manager_initialized = True
        server.manager.initialize()


def _default_registry(settings: ServerSettings, db: BaseDB) -> TurnRegistry:
    """With a message queue, turns are claimed cluster-wide (Redis leases); else in this process."""
    if settings.message_queue is None:
        return LocalTurnRegistry()
    from director.entrypoint.api.turn_leases import ClusterTurnRegistry

    url = settings.message_queue.get_secret_value()
    return ClusterTurnRegistry.for_db(url, settings.turn_lease_s, db, name=worker_identity(settings.port))


def _start_cluster_registry(registry: TurnRegistry) -> None:
    # Renewing leases, sweeping expired ones and listening for stops (an injected registry may have none).
    start = getattr(registry, "start", None)
    if callable(start):
        start()


def _recorder() -> Callable[[BaseLLM, str], BaseLLM] | None:
    """With ``DIRECTOR_RECORD_DIR``: each turn's model exchanges are appended to its session's file."""
    from director.llm.recording import RecordingLLM, RecordSettings, recording_path

    record_dir = RecordSettings().record_dir
    if record_dir is None:
        return None
    return lambda llm, session_id: RecordingLLM(llm, recording_path(record_dir, session_id), session_id)


def _default_agents() -> list[type[BaseAgent]]:
    from director.agents import AGENTS

    return _agent_classes(AGENTS)


def create_app(
    settings: ServerSettings | None = None,
    llm: BaseLLM | None = None,
    db: BaseDB | None = None,
    agents: Mapping[str, type[BaseAgent]] | Iterable[type[BaseAgent]] | None = None,
    frontend_dir: Path | None = None,
    registry: TurnRegistry | None = None,
    mcp_hub: MCPHub | None = None,
    async_mode: str = "threading",
) -> tuple[Flask, SocketIO]:
    """``registry`` is where a cluster-wide turn registry (busy claim, stop) plugs in; by default
    turns are tracked in this process's memory. ``mcp_hub``: the MCP servers' connections (by default
    started here from ``DIRECTOR_MCP_CONFIG``, once per process). ``async_mode``: "gevent" under the
    gevent worker (server.py installs thread_bridge.py on it); in-process tests keep "threading"."""
    settings = settings or load_server_settings()
    llm = llm or _default_llm()
    db = db or _default_db(settings)
    agent_classes = _agent_classes(agents) if agents is not None else _default_agents()
    mcp_hub, extra_agents = mcp_agents(mcp_hub, settings.agent_timeout)

    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # keep field order as built (session fields, then conversation)
    # REST takes no bodies; this bounds any a client sends anyway.
    app.config["MAX_CONTENT_LENGTH"] = 1_000_000
    max_buffer = transport_max_bytes(settings.max_message_chars)

    origins = OriginPolicy(settings.cors_origins)
    socketio = SocketIO(
        app,
        async_mode=async_mode,
        cors_allowed_origins=origins,
        max_http_buffer_size=max_buffer,
        json=wire_json,  # hostile nesting gets an `error` event, not a dropped packet and a traceback
        logger=False,
        engineio_logger=False,
        **_message_queue(settings),
    )
    if async_mode == "gevent":
        from director.entrypoint.api import thread_bridge

        thread_bridge.install(socketio)  # before the queue's listener starts and any client connects
    admission = Admission(connection_limit(settings))
    admission.install(socketio.server.eio)
    registry = registry if registry is not None else _default_registry(settings, db)
    limits = EngineLimits(
        max_steps=settings.max_steps, agent_timeout_s=settings.agent_timeout, compact_at=settings.compact_at
    )
    meter = UsageMeter(db, Budget(load_budget_settings(), db.get_spend, has_price))
    install_callbacks()  # LITELLM_CALLBACKS, once per process
    runner = TurnRunner(
        db,
        llm,
        agent_classes,
        limits,
        registry,
        spawn=socketio.start_background_task,
        extra_agents=extra_agents,
        wrap_llm=_recorder(),
        auto_title=settings.auto_title,
        meter=meter,
    )
    queue = socketio.server.manager if settings.message_queue is not None else None
    state = ServerState(
        settings=settings,
        llm=llm,
        db=db,
        agent_classes=agent_classes,
        registry=registry,
        runner=runner,
        origins=origins,
        admission=admission,
        frontend_dir=frontend_dir or FRONTEND_DIST,
        health=ServerHealth.build(settings, db, queue),
        mcp_hub=mcp_hub,
        extra_agents=extra_agents,
    )
    app.extensions[EXTENSION_KEY] = state
    app.extensions[USAGE_KEY] = meter

    app.register_blueprint(api)
    _register_frontend(app, state.frontend_dir)
    _register_cors(app, origins)
    _register_errors(app)
    socketio.on_namespace(ChatNamespace(state, socketio))
    install_packet_guard(socketio.server, NAMESPACE)
    # After the packet guard, which replaces the websocket driver this wraps.
    limit_websocket_messages(socketio, max_buffer)
    app.wsgi_app = PollingPayloadGuard(app.wsgi_app, max_buffer)  # type: ignore[method-assign]
    # Outermost, around Flask-SocketIO's own middleware: one check for REST, files and Socket.IO.
    if queue is not None:
        _start_queue_listener(socketio)
        _start_cluster_registry(registry)
    app.wsgi_app = HostGuard(app.wsgi_app, HostPolicy(settings.host_names))  # type: ignore[method-assign]
    return app, socketio


# Defence in depth behind the sanitised markdown: even if model output slipped script into the page,
# the browser would run none that is not the app's own, and the page cannot be framed.
# ('self' covers the same-origin websocket; inline styles are Vue's bindings and highlight.js.)
# Remote images only with DIRECTOR_ALLOW_REMOTE_IMAGES: an image URL can carry chat text out.
def content_security_policy(allow_remote_images: bool) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: https:" if allow_remote_images else "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _register_frontend(app: Flask, dist: Path) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            policy = content_security_policy(app.extensions[EXTENSION_KEY].settings.allow_remote_images)
            response.headers.setdefault("Content-Security-Policy", policy)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.get("/")
    def index() -> ResponseReturnValue:
        if (dist / "index.html").is_file():
            return send_from_directory(dist, "index.html", max_age=0)
        return Response(NO_FRONTEND_PAGE, mimetype="text/html")

    @app.get("/<path:filename>")
    def frontend_file(filename: str) -> ResponseReturnValue:
        # send_from_directory refuses paths escaping ``dist`` (../), answering 404.
        if not dist.is_dir():
            raise NotFound()
        return send_from_directory(dist, filename)


def _register_cors(app: Flask, origins: OriginPolicy) -> None:
    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and origins.allowed(origin, request.environ):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                response.headers["Access-Control-Max-Age"] = "600"
        response.vary.add("Origin")
        return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> ResponseReturnValue:
        return jsonify({"code": "not_found", "message": exc.message}), 404

    @app.errorhandler(BadPayloadError)
    def bad_payload(exc: BadPayloadError) -> ResponseReturnValue:
        return jsonify({"code": exc.code, "message": exc.message}), 400

    @app.errorhandler(StorageFullError)
    def storage_full(exc: StorageFullError) -> ResponseReturnValue:
        # 507 Insufficient Storage + Retry-After: clients back off instead of retrying at once.
        body = {"code": exc.code, "message": exc.message, "retry_after": exc.retry_after_s}
        return jsonify(body), 507, {"Retry-After": str(exc.retry_after_s)}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = jsonify({"code": code, "message": exc.description or exc.name})
        if exc.code == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response, exc.code or 500

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> ResponseReturnValue:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(
            {"code": "internal_error", "message": "Internal server error; it has been logged."}
        ), 500
