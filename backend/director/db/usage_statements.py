"""The usage statements (issue 12), built once per engine like ``sql._Statements``.

Each model call is one ``llm_calls`` row plus two increments of ``usage_totals`` (its session and its
UTC day), in one transaction: the budget check before every call reads two primary keys, and chat
totals never need a scan. The Usage page's report is a GROUP BY over ``llm_calls`` by time range.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.sql.functions import coalesce

from director.db import dialects
from director.db.prepared import Prepared
from director.db.schema import llm_calls, sessions, usage_totals

TOTAL_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "cost_usd", "llm_calls")
REPORT_FIELDS = (*TOTAL_FIELDS, "unpriced_calls")
DAY_S = 86400
LAST_DAY_END = 253_402_214_400.0  # 9999-12-31, the last day YYYY-MM-DD can name (later calls are scanned)


class UsageScope(StrEnum):
    SESSION = "session"
    DAY = "day"
    # Per UTC day and model / chat (key "YYYY-MM-DD|<model or chat>"): GET /usage sums whole days from
    # these few rows instead of scanning every call; only the partial days at a range's ends are scanned.
    DAY_MODEL = "day_model"
    DAY_SESSION = "day_session"


class UsageGroup(StrEnum):
    DAY = "day"
    MODEL = "model"
    SESSION = "session"


GROUP_SCOPE = {
    UsageGroup.DAY: UsageScope.DAY,
    UsageGroup.MODEL: UsageScope.DAY_MODEL,
    UsageGroup.SESSION: UsageScope.DAY_SESSION,
}
UNKNOWN_MODEL = "unknown"


TOTALS_SLOTS = 100  # session ids per totals query (a sidebar page is 50)


def slot_values(keys: list[str]) -> dict[str, str | None]:
    """Bind values for ``totals_of_sessions``: up to TOTALS_SLOTS keys, the rest NULL."""
    return {f"k{i}": keys[i] if i < len(keys) else None for i in range(TOTALS_SLOTS)}


def zero_totals() -> dict[str, Any]:
    return {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "cost_usd": 0.0, "llm_calls": 0}


def as_totals(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return zero_totals()
    return {
        "input_tokens": int(row["input_tokens"] or 0),
        "output_tokens": int(row["output_tokens"] or 0),
        "cached_tokens": int(row["cached_tokens"] or 0),
        "cost_usd": float(row["cost_usd"] or 0.0),
        "llm_calls": int(row["llm_calls"] or 0),
    }


class UsageStatements:
    def __init__(self, engine: Engine):
        dialect = engine.dialect
        name = dialect.name
        self.insert_call = Prepared(llm_calls.insert(), dialect)
        tot = usage_totals.c
        upsert = dialects.insert(name, usage_totals)
        self.add_to_totals = Prepared(
            upsert.on_conflict_do_update(
                index_elements=[tot.scope, tot.key],
                set_={f: getattr(tot, f) + getattr(upsert.excluded, f) for f in REPORT_FIELDS},
            ),
            dialect,
        )
        total_columns = [getattr(tot, f) for f in TOTAL_FIELDS]
        self.totals_of = Prepared(
            select(*total_columns).where(tot.scope == bindparam("scope"), tot.key == bindparam("key")),
            dialect,
        )
        self.session_totals = Prepared(
            select(tot.key, *total_columns).where(tot.scope == UsageScope.SESSION.value), dialect
        )
        # A page of chats' totals: a fixed number of slots keeps it one prepared statement (unused
        # slots are bound to NULL, which matches no key); longer lists run in slot-sized pieces.
        self.totals_of_sessions = Prepared(
            select(tot.key, *total_columns).where(
                tot.scope == UsageScope.SESSION.value,
                tot.key.in_([bindparam(f"k{i}") for i in range(TOTALS_SLOTS)]),
            ),
            dialect,
        )
        # The budget check: both spends in one round trip.
        self.spend = Prepared(
            select(tot.scope, tot.cost_usd).where(
                or_(
                    and_(tot.scope == UsageScope.SESSION.value, tot.key == bindparam("sid")),
                    and_(tot.scope == UsageScope.DAY.value, tot.key == bindparam("day")),
                )
            ),
            dialect,
        )
        self.report = {group: Prepared(_report(group), dialect) for group in UsageGroup}
        # Whole days of GET /usage: keys of one scope from a day (inclusive) to another (exclusive).
        self.whole_days = Prepared(
            select(tot.key, *total_columns, tot.unpriced_calls).where(
                tot.scope == bindparam("scope"), tot.key >= bindparam("first"), tot.key < bindparam("end")
            ),
            dialect,
        )
        self.title = Prepared(
            select(sessions.c.title).where(sessions.c.session_id == bindparam("sid")), dialect
        )


def _report(group: UsageGroup) -> Any:
    c = llm_calls.c
    sums = [
        coalesce(func.sum(c.input_tokens), 0).label("input_tokens"),
        coalesce(func.sum(c.output_tokens), 0).label("output_tokens"),
        coalesce(func.sum(c.cached_tokens), 0).label("cached_tokens"),
        coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
        func.count().label("llm_calls"),
        # Calls LiteLLM could not price: their cost is missing from cost_usd, and the page says so.
        coalesce(func.sum(case((c.cost_usd.is_(None), 1), else_=0)), 0).label("unpriced_calls"),
    ]
    in_range = and_(c.created_at >= bindparam("since"), c.created_at < bindparam("until"))
    keys = {
        UsageGroup.DAY: c.day,
        UsageGroup.MODEL: coalesce(c.model, literal(UNKNOWN_MODEL)),
        UsageGroup.SESSION: c.session_id,
    }
    key = keys[group]
    return select(key.label("key"), *sums).where(in_range).group_by(key)


def whole_days(since: float, until: float) -> tuple[float, float] | None:
    """The whole UTC days inside ``[since, until)`` as ``(start, end)`` epoch seconds, or None."""
    first = math.ceil(since / DAY_S) * DAY_S
    end = math.floor(min(until, LAST_DAY_END) / DAY_S) * DAY_S
    return (first, end) if first < end else None


def group_key(scope: UsageScope, key: str) -> str:
    """The GET /usage key of a totals row: the day, or what follows "YYYY-MM-DD|"."""
    return key if scope is UsageScope.DAY else key[11:]


def merge(rows: list[dict[str, Any]], into: dict[str, dict[str, Any]]) -> None:
    for row in rows:
        total = into.setdefault(row["key"], {"key": row["key"], **{f: 0 for f in REPORT_FIELDS}})
        for field in REPORT_FIELDS:
            total[field] += row[field] or 0


def ordered(group: UsageGroup, merged: dict[str, dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    rows = [
        {**row, **as_totals(row), "unpriced_calls": int(row["unpriced_calls"])} for row in merged.values()
    ]
    if group is UsageGroup.DAY:
        return sorted(rows, key=lambda r: r["key"])
    rows.sort(key=lambda r: (-r["cost_usd"], r["key"]))
    return rows[:limit] if group is UsageGroup.SESSION else rows


def utc_day(ts: float) -> str:
    """The UTC date of an epoch time, ``YYYY-MM-DD``: the daily budget's day."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def call_row(call: dict[str, Any], ts: float) -> dict[str, Any]:
    """The ``llm_calls`` row of one call, checked before any transaction (ValueError: nothing written)."""
    created_at = call.get("created_at")
    created_at = float(created_at) if isinstance(created_at, int | float) else ts
    row = {
        "call_id": call.get("call_id") or uuid.uuid4().hex,
        "session_id": call["session_id"],
        "msg_id": call.get("msg_id"),
        "agent": call.get("agent"),
        "model": call.get("model"),
        "cost_usd": _optional_float(call.get("cost_usd"), "cost_usd"),
        "latency_ms": _optional_float(call.get("latency_ms"), "latency_ms"),
        "outcome": str(call.get("outcome") or "success"),
        "created_at": created_at,
        "day": utc_day(created_at),
    }
    for name in ("input_tokens", "output_tokens", "cached_tokens"):
        value = call.get(name) or 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
        row[name] = value
    return row


def totals_increments(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage_totals rows one call adds to: its chat, its day, its day and model, its day and chat."""
    day = row["day"]
    return [
        totals_increment(row, UsageScope.SESSION, row["session_id"]),
        totals_increment(row, UsageScope.DAY, day),
        totals_increment(row, UsageScope.DAY_MODEL, f"{day}|{row['model'] or UNKNOWN_MODEL}"),
        totals_increment(row, UsageScope.DAY_SESSION, f"{day}|{row['session_id']}"),
    ]


def totals_increment(row: dict[str, Any], scope: UsageScope, key: str) -> dict[str, Any]:
    return {
        "scope": scope.value,
        "key": key,
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cached_tokens": row["cached_tokens"],
        "cost_usd": row["cost_usd"] or 0.0,
        "llm_calls": 1,
        "unpriced_calls": 1 if row["cost_usd"] is None else 0,
    }


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number or None; got {value!r}")
    return float(value)
