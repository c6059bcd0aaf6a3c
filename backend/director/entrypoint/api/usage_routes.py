"""``GET /usage`` (the Usage page) and ``GET /usage/budget`` (the budget bar), on the REST blueprint
(so the same token check applies). Every figure is summed by the database."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from director.core.metered_llm import UsageMeter
from director.db.usage_statements import UsageGroup, as_totals, utc_day
from director.entrypoint.api.routes import api, json_error, state

USAGE_KEY = "director.usage"
DEFAULT_DAYS = 30
MAX_SESSIONS = 100


def meter() -> UsageMeter:
    return current_app.extensions[USAGE_KEY]


def _time_arg(name: str, default: float) -> float:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be epoch seconds; got {raw[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be epoch seconds; got {raw[:40]!r}")
    return value


@api.get("/usage")
def usage() -> ResponseReturnValue:
    """``?since=&until=`` (epoch seconds; default the last 30 days), ``group_by=day|model|session``,
    ``limit`` (sessions, default 20, at most 100)."""
    group_by = request.args.get("group_by", UsageGroup.DAY.value)
    if group_by not in {g.value for g in UsageGroup}:
        return json_error(400, "invalid_group_by", "group_by must be one of day, model, session.")
    now = time.time()
    try:
        until = _time_arg("until", now)
        since = _time_arg("since", until - DEFAULT_DAYS * 86400)
        limit = int(request.args.get("limit", "20"))
    except ValueError as exc:
        return json_error(400, "invalid_range", str(exc))
    if since > until:
        return json_error(400, "invalid_range", "since must not be after until.")
    if not 1 <= limit <= MAX_SESSIONS:
        return json_error(400, "invalid_range", f"limit must be 1 to {MAX_SESSIONS}.")
    rows = state().db.usage_report(since, until, group_by, limit)
    totals: dict[str, Any] = as_totals(None)
    if group_by != UsageGroup.SESSION.value:  # a session list is cut at `limit`: its sum is not the total
        for row in rows:
            for key in totals:
                totals[key] += row[key]
    return jsonify({"since": since, "until": until, "group_by": group_by, "rows": rows, "totals": totals})


@api.get("/usage/budget")
def budget() -> ResponseReturnValue:
    """The budgets and today's spend (UTC), for the UI's budget bar; a chat's spend is in its totals."""
    current = meter()
    _, day_spent = state().db.get_spend("", utc_day(time.time()))
    settings = current.budget.settings
    return jsonify(
        {
            **current.budget.describe(),
            "today_spent_usd": day_spent,
            "allow_unpriced_models": settings.unpriced_allowed,
        }
    )
