"""REST: agents, sessions, config check and health. Every response (errors included) is JSON.

With ``DIRECTOR_AUTH_TOKEN`` set, every route here except ``/health`` needs
``Authorization: Bearer <token>``; the static frontend is served outside this blueprint.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from director.core.session import as_interrupted
from director.db.usage_statements import zero_totals
from director.entrypoint.api.security import bearer_token, token_matches
from director.entrypoint.api.state import EXTENSION_KEY, ServerState
from director.errors import NotFoundError, SessionBusyError

logger = logging.getLogger(__name__)

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
        [{"name": agent.name, "description": agent.description} for agent in state().agent_classes]
    )


@api.get("/session")
def list_sessions() -> ResponseReturnValue:
    db = state().db
    sessions = db.get_sessions()
    totals = db.get_all_session_totals()  # summed by the database (usage_totals), never here
    return jsonify([{**s, "totals": totals.get(s["session_id"]) or zero_totals()} for s in sessions])


@api.get("/session/<session_id>")
def get_session(session_id: str) -> ResponseReturnValue:
    current = state()
    session = current.db.get_session(session_id)
    if session is None:
        raise NotFoundError(f"No session with id {session_id[:128]!r}.")
    conversation = current.db.get_conversations(session_id)
    if not current.registry.is_busy(session_id):
        # An output still "in progress" with no turn running was cut by a crash: show it as ended.
        conversation = [as_interrupted(message) for message in conversation]
    totals = current.db.get_usage_totals(session_id)
    return jsonify({**session, "totals": totals, "conversation": conversation})


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
    }
