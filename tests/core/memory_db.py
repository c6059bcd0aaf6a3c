"""An in-memory stand-in for the DB contract in docs/architecture.md (no dependency on director.db)."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any


class MemoryDB:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.context: dict[str, list[dict[str, Any]]] = {}
        self.turn_contexts: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.branch_states: dict[str, dict[str, Any]] = {}
        # Every write, in order, so tests can check *when* things were persisted.
        self.writes: list[tuple[str, Any]] = []

    def create_session(self, session_id, title=None, metadata=None):
        with self._lock:
            now = time.time()
            row = {"session_id": session_id, "title": title, "created_at": now, "updated_at": now}
            row["metadata"] = metadata or {}
            self.sessions[session_id] = row
            self.writes.append(("session", session_id))
            return dict(row)

    def get_session(self, session_id):
        with self._lock:
            row = self.sessions.get(session_id)
            return dict(row) if row else None

    def get_sessions(self):
        with self._lock:
            return sorted((dict(r) for r in self.sessions.values()), key=lambda r: -r["updated_at"])

    def update_session(self, session_id, title=None):
        with self._lock:
            row = self.sessions[session_id]
            if title is not None:
                row["title"] = title
            row["updated_at"] = time.time()

    def delete_session(self, session_id):
        with self._lock:
            self.messages.pop(session_id, None)
            self.context.pop(session_id, None)
            return self.sessions.pop(session_id, None) is not None

    def add_or_update_msg_to_conv(self, message):
        with self._lock:
            # A deep copy, like a real DB: later mutations of the caller's dict must not leak in.
            stored = copy.deepcopy(message)
            self.messages.setdefault(message["session_id"], {})[message["msg_id"]] = stored
            self.writes.append(("message", copy.deepcopy(message)))

    def get_conversations(self, session_id):
        with self._lock:
            rows = list(self.messages.get(session_id, {}).values())
            return copy.deepcopy(sorted(rows, key=lambda m: m.get("created_at", 0)))

    def get_context_messages(self, session_id):
        with self._lock:
            return copy.deepcopy(self.context.get(session_id, []))

    def add_or_update_context_msg(self, session_id, messages):
        with self._lock:
            self.context[session_id] = copy.deepcopy(messages)
            self.writes.append(("context", copy.deepcopy(messages)))

    def health_check(self):
        return True

    def finish_unfinished_messages(self, updated_before, finish):
        with self._lock:
            count = 0
            for messages in self.messages.values():
                for msg_id, message in messages.items():
                    if message.get("msg_type") == "output" and message.get("status") == "progress":
                        messages[msg_id] = copy.deepcopy(finish(copy.deepcopy(message)))
                        count += 1
            return count

    # -- per-chat model settings (issue 11) --
    def set_session_settings(self, session_id, changes):
        with self._lock:
            row = self.sessions.get(session_id)
            if row is None:
                return None
            row.update(changes)
            self.writes.append(("settings", dict(changes)))
            return {"model": None, "reasoning_effort": None, **row}

    # -- Branches (issue 13) --------------------------------------------------------------------

    def get_message_tree(self, session_id):
        return [
            {
                "msg_id": m["msg_id"],
                "parent_msg_id": m.get("parent_msg_id"),
                "msg_type": m.get("msg_type"),
            }
            for m in self.get_conversations(session_id)
        ]

    def get_messages(self, session_id, msg_ids):
        with self._lock:
            stored = self.messages.get(session_id, {})
            return [copy.deepcopy(stored[m]) for m in msg_ids if m in stored]

    def get_branch_state(self, session_id):
        with self._lock:
            state = self.branch_states.setdefault(session_id, {"view_tip": None, "context_tip": None})
            return dict(state)

    def set_view_tip(self, session_id, msg_id):
        with self._lock:
            self.branch_states.setdefault(session_id, {"view_tip": None, "context_tip": None})["view_tip"] = (
                msg_id
            )

    def get_turn_contexts(self, session_id, msg_ids):
        with self._lock:
            stored = self.turn_contexts.get(session_id, {})
            return {m: copy.deepcopy(stored[m]) for m in msg_ids if m in stored}

    def save_turn_context(self, session_id, msg_id, turn_messages, context):
        with self._lock:
            self.turn_contexts.setdefault(session_id, {})[msg_id] = copy.deepcopy(turn_messages)
            self.context[session_id] = copy.deepcopy(context)
            self.branch_states.setdefault(session_id, {"view_tip": None, "context_tip": None})[
                "context_tip"
            ] = msg_id
            self.writes.append(("context", copy.deepcopy(context)))

    def save_message_and_turn_context(self, message, msg_id, turn_messages, context):
        # As BaseDB's default: one after the other, through the methods a test may override.
        self.save_turn_context(message["session_id"], msg_id, turn_messages, context)
        self.add_or_update_msg_to_conv(message)

    # -- usage and budgets (issue 12): sums over the stored calls, as the contract describes --

    def record_llm_call(self, call):
        with self._lock:
            self.__dict__.setdefault("calls", []).append(dict(call))

    def _session_calls(self, session_id):
        return [c for c in self.__dict__.get("calls", []) if c["session_id"] == session_id]

    @staticmethod
    def _sum(calls):
        return {
            "input_tokens": sum(c["input_tokens"] for c in calls),
            "output_tokens": sum(c["output_tokens"] for c in calls),
            "cached_tokens": sum(c["cached_tokens"] for c in calls),
            "cost_usd": sum(c["cost_usd"] or 0.0 for c in calls),
            "llm_calls": len(calls),
        }

    def get_usage_totals(self, session_id):
        with self._lock:
            return self._sum(self._session_calls(session_id))

    def get_all_session_totals(self):
        with self._lock:
            ids = {c["session_id"] for c in self.__dict__.get("calls", [])}
            return {sid: self._sum(self._session_calls(sid)) for sid in ids}

    def get_session_totals(self, session_ids):
        every = self.get_all_session_totals()
        return {sid: every[sid] for sid in session_ids if sid in every}

    def get_spend(self, session_id, day):
        from director.db.usage_statements import utc_day

        with self._lock:
            calls = self.__dict__.get("calls", [])
            day_calls = [c for c in calls if utc_day(c.get("created_at") or time.time()) == day]
            return self._sum(self._session_calls(session_id))["cost_usd"], self._sum(day_calls)["cost_usd"]

    # -- compaction (issue 13) ----------------------------------------------------------------------

    def save_context_summary(self, session_id, summary):
        from director.db.base import check_context_summary

        row = {**check_context_summary(summary), "created_at": time.time()}
        with self._lock:
            rows = self.__dict__.setdefault("summaries", {}).setdefault(session_id, {})
            rows[row["through_msg_id"]] = row
            self.writes.append(("summary", copy.deepcopy(row)))

    def get_context_summaries(self, session_id):
        with self._lock:
            rows = self.__dict__.get("summaries", {}).get(session_id, {}).values()
            return sorted((dict(r) for r in rows), key=lambda r: (-r["covered"], -r["created_at"]))

    def save_input_message(self, message, title=None):
        # The same writes as the SQL backends' one transaction, in the order the turn made them before.
        self.add_or_update_msg_to_conv(message)
        self.set_view_tip(message["session_id"], message["msg_id"])
        row = self.get_session(message["session_id"])
        if row is None:
            self.create_session(message["session_id"], title=title)
        elif title is not None and not row.get("title"):
            self.update_session(message["session_id"], title=title)
