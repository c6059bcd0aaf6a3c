"""REST: agents, sessions, config check and health. Every response (errors included) is JSON.

With ``DIRECTOR_AUTH_TOKEN`` set, every route here except ``/health`` needs
``Authorization: Bearer <token>``; the static frontend is served outside this blueprint.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from director.core.export import MEDIA_TYPES, ExportFormat, render
from director.core.heartbeat import recently_saved
from director.core.history import branch_page, parse_limit, sessions_page, switch_branch
from director.core.session import as_interrupted
from director.db.chat_settings import pinned_first
from director.db.search import MAX_QUERY_CHARS
from director.db.usage_statements import zero_totals
from director.entrypoint.api.live_turns import live_output, with_live_output
from director.entrypoint.api.security import bearer_token, token_matches
from director.entrypoint.api.state import EXTENSION_KEY, ServerState
from director.errors import BadPayloadError, NotFoundError, SessionBusyError
from director.llm.for_session import parse_settings

logger = logging.getLogger(__name__)

# What PATCH /session/<id> changes: the chat's name and pin, and its model settings.
PATCHABLE = frozenset({"title", "pinned", "model", "reasoning_effort"})

api = Blueprint("api", __name__)

# Routes anyone may call even when a token is configured (load balancers, the UI's first probe).
PUBLIC_ENDPOINTS = frozenset({"api.health"})


def state() -> ServerState:
    return current_app.extensions[EXTENSION_KEY]


def json_error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify({"code": code, "message": message}), status


@api.before_request
def require_token() -> ResponseReturnValue | None:
    # Preflights carry no Authorization header by design; CORS headers are added in app.py.
    if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    expected = state().settings.auth_token
    if expected is None:
        return None
    if not token_matches(expected, bearer_token(request.headers.get("Authorization"))):
        logger.info("REST request refused (no or wrong token): %s %s", request.method, request.path)
        return json_error(401, "unauthorized", "Send 'Authorization: Bearer <DIRECTOR_AUTH_TOKEN>'.")
    return None


@api.get("/health")
def health() -> ResponseReturnValue:
    # Cheap on purpose: it answers before LiteLLM is even imported, which is what "ready" means.
    # auth_required lets a client ask for the token before its first protected call (no 401 probe).
    # worker/message_queue/database say who answered and what it can reach (probes cached ~1 s).
    current = state()
    return jsonify(
        {"status": "ok", "auth_required": current.settings.auth_required, **current.health.report()}
    )


@api.get("/agent")
def list_agents() -> ResponseReturnValue:
    return jsonify(
        [
            # server: the MCP server an agent's tool belongs to (null for built-in agents)
            {"name": agent.name, "description": agent.description, "server": getattr(agent, "server", None)}
            for agent in state().all_agent_classes()
        ]
    )


@api.get("/session")
def list_sessions() -> ResponseReturnValue:
    query = request.args.get("q")
    if query is not None and query.strip():
        return search_sessions(query)
    db = state().db

    def with_totals(rows: list[dict[str, Any]], totals: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**s, "totals": totals.get(s["session_id"]) or zero_totals()} for s in rows]

    limit = parse_limit(request.args.get("limit"))
    if limit is not None:  # paged: {sessions, next_cursor}, with the totals of that page's chats only
        page = sessions_page(db, limit, request.args.get("cursor") or None)
        rows = pinned_first(page["sessions"])
        totals = db.get_session_totals([s["session_id"] for s in rows])  # summed by the database
        return jsonify({**page, "sessions": with_totals(rows, totals)})
    return jsonify(with_totals(pinned_first(db.get_sessions()), db.get_all_session_totals()))


def search_sessions(query: str) -> ResponseReturnValue:
    """``GET /session?q=``: the chats with a message matching every word, best first (see db/search.py)."""
    if len(query) > MAX_QUERY_CHARS:
        return json_error(400, "invalid_query", f"A search is at most {MAX_QUERY_CHARS} characters.")
    return jsonify(state().db.search_messages(query))


@api.get("/session/<session_id>")
def get_session(session_id: str) -> ResponseReturnValue:
    limit = parse_limit(request.args.get("limit"))
    session, page = _session_with_conversation(session_id, limit, request.args.get("before") or None)
    totals = state().db.get_usage_totals(session_id)  # summed by the database
    return jsonify({**session, **page, "totals": totals})


def _session_with_conversation(
    session_id: str, limit: int | None = None, before: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The session, and the page of the branch shown (``core/history.branch_page``) as readers see it."""
    current = state()
    session = current.db.get_session(session_id)
    if session is None:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    page = branch_page(current.db, session_id, limit, before)
    conversation = page["conversation"]
    if not current.registry.is_busy(session_id):
        # An output still "in progress" with no turn running was cut by a crash: show it as ended.
        # With several processes (a message queue) another one may be running it: it is alive while
        # its heartbeat keeps it recently saved.
        shared = current.settings.message_queue is not None
        conversation = [
            message if shared and recently_saved(message) else as_interrupted(message)
            for message in conversation
        ]
    else:
        # Mid-answer: the text streamed since the last periodic save, when the turn runs here.
        conversation = with_live_output(conversation, live_output(current.registry, session_id))
    return session, {**page, "conversation": conversation}


@api.put("/session/<session_id>/branch")
def put_branch(session_id: str) -> ResponseReturnValue:
    """Branches: show the branch through ``msg_id`` (a sibling picked with the arrows) from now on."""
    current = state()
    if current.db.get_session(session_id) is None:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    body = request.get_json(silent=True)
    msg_id = body.get("msg_id") if isinstance(body, dict) else None
    if not isinstance(msg_id, str) or not msg_id:
        raise BadPayloadError("invalid_id", 'Send {"msg_id": "<id of a message in this session>"}.')
    switch_branch(current.db, session_id, msg_id)
    return jsonify({"session_id": session_id, "view_tip": msg_id})


@api.get("/session/<session_id>/export")
def export_session(session_id: str) -> ResponseReturnValue:
    try:
        fmt = ExportFormat(request.args.get("format", ExportFormat.MARKDOWN.value))
    except ValueError:
        raise BadPayloadError("invalid_format", "format must be md or json.") from None
    session, page = _session_with_conversation(session_id)
    body = render(session, page["conversation"], fmt)
    # A safe file name whatever the id holds (ids are [A-Za-z0-9_.:-]; ':' is not welcome in file names).
    filename = (
        "director-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id) + f".{fmt.value}"
    )
    return Response(
        body,
        content_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.delete("/session/<session_id>")
def delete_session(session_id: str) -> ResponseReturnValue:
    current = state()
    # Claiming the session makes the delete atomic with respect to a chat starting meanwhile.
    try:
        current.registry.claim(session_id)
    except SessionBusyError:
        return json_error(
            409, "session_busy", "A turn is running in this session. Stop it first, then delete."
        )
    try:
        deleted = current.db.delete_session(session_id)
    finally:
        current.registry.release(session_id)
    if not deleted:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    return jsonify({"deleted": True, "session_id": session_id})


@api.patch("/session/<session_id>")
def update_session(session_id: str) -> ResponseReturnValue:
    """Change a chat: rename (``title``), pin (``pinned``), and/or set its ``model`` / ``reasoning_effort``
    (null: back to the default) for its next turns. Everything is checked before anything is written."""
    current = state()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not (PATCHABLE & body.keys()):
        raise BadPayloadError(
            "invalid_payload", f"Send a JSON object with any of {', '.join(sorted(PATCHABLE))}."
        )
    changes = parse_settings(body, null_resets=True)
    current.runner.llms.check(changes)  # InvalidModelError: 400 invalid_model, nothing stored
    try:
        if {"title", "pinned"} & body.keys():
            found = current.db.update_chat_settings(
                session_id, title=body.get("title"), pinned=body.get("pinned")
            )
            if found is None:
                raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    except ValueError as exc:
        raise BadPayloadError("invalid_payload", str(exc).capitalize() + ".") from None
    if changes and current.db.set_session_settings(session_id, changes) is None:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    session = current.db.get_session(session_id)
    if session is None:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    return jsonify(session)


@api.get("/model")
def list_models() -> ResponseReturnValue:
    """The model catalog: ``?q=`` filters by id (every word), ``?allowed=true`` keeps allowed models only."""
    query = request.args.get("q", "")[:200]
    allowed_only = request.args.get("allowed", "").lower() in ("true", "1", "yes")
    body = state().catalog.query(query, allowed_only)
    return current_app.response_class(body, mimetype="application/json")


@api.get("/config/check")
def config_check() -> ResponseReturnValue:
    current = state()
    return jsonify(describe_config(current))


def describe_config(current: ServerState) -> dict[str, Any]:
    """What the UI needs to tell a user whether setup is complete. Never includes a secret."""
    from director.llm import describe_llm

    llm_info = describe_llm(current.llm)
    return {
        "llm_configured": bool(llm_info.get("llm_configured")),
        "llm_type": llm_info.get("llm_type"),
        "chat_model": llm_info.get("chat_model"),
        "db_configured": bool(current.db.health_check()),
        "db_type": current.settings.db_type.value,
        "auth_required": current.settings.auth_required,
        # The UI shows remote images in answers only when the server allows them (and its CSP does).
        "allow_remote_images": current.settings.allow_remote_images,
        # Each MCP server's state and tool count (no command line, env or headers: they may hold secrets).
        "mcp_servers": current.mcp_hub.describe() if current.mcp_hub is not None else [],
    }
