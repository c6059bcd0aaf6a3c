"""One turn per session across every server process: ``ClusterTurnRegistry`` (``DIRECTOR_MESSAGE_QUEUE``).

The busy claim is a Redis key per busy session, ``director:turn:<session id>``, holding the claiming
process's token with a lease of ``DIRECTOR_TURN_LEASE_S`` (L, 10 s by default). It is taken with one
atomic ``SET NX PX`` (so ``session_busy`` still comes back at once, from any process), renewed every
L/4 by the process running the turn, and deleted when the turn ends. The session id also goes into the
set ``director:turns`` while claimed, which is where the other processes look for leases that expired.

Why a lease and not just a key: a process killed with ``kill -9`` never deletes its keys. Its leases
stop being renewed and expire within L; every process sweeps the claimed sessions every L/2, and a
session seen without a lease (and not running here) on two sweeps at least L/2 apart is taken over
(``SET NX`` again, by the sweeper) and its answers still ``progress`` are rewritten as interrupted.
Two sightings, because a Redis restarted without its data has no leases at all until every process's
next renewal (L/4) writes them back. So a dead process's answer shows as interrupted at most
**2 x L** after the kill (20 s by default; L is at most 12 s, so never more than 24 s), and the session
is free for a new turn on any process once the lease expired (at most L). A new claim repairs the
session's cut answers itself, so a session continued at once never shows the old one as running.
L is not shorter because a process starved of CPU for L (three missed renewals) would lose its turns'
claims; not longer, because that is how long a crashed turn holds its session.

While Redis is unreachable (see message_queue.py for the other half of the outage):
- a running turn is never stopped for a lease it cannot renew: it runs to its end and is saved, and its
  lease is written back (``SET`` if absent) once Redis answers again. A lease lost to a Redis outage is a
  bookkeeping problem, not evidence the turn is broken, and killing a healthy turn loses the user's answer;
- new claims fall back to this process's own (``LocalTurnRegistry``), as a single server does: the
  cluster keeps serving, and for the outage two processes could run a turn in the same session. Each
  Redis call is skipped for a second after a failure, so no turn waits on a dead Redis for each call.

``stop`` for a turn running elsewhere is published on the ``director-turns`` channel; every process
listens and stops its own turn of that session. ``attach``, ``running``, ``stop_all`` and the rest stay
about this process's turns (the shutdown drain's business), delegated to a ``LocalTurnRegistry``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from director.core.session import StopReason, as_interrupted
from director.core.turns import LocalTurnRegistry, Stoppable, TurnRegistry
from director.db.base import BaseDB
from director.entrypoint.api.message_queue import (
    LISTEN_RETRY_S,
    LISTEN_TIMEOUT_S,
    RETRY_AFTER_S,
    close_quietly,
    redacted_url,
    redis_client,
)
from director.errors import SessionBusyError
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

T = TypeVar("T")

ACTIVE_SET = "director:turns"
STOP_CHANNEL = "director-turns"
COMMAND_TIMEOUT_S = 1.0

# KEYS: lease, active set. ARGV: token, lease ms, session id. 1 when claimed. A lease already ours
# counts as claimed: the caller holds no turn there (its local claim said so), so that is a retried
# claim whose first reply was lost, or a release of ours that did not reach Redis.
_CLAIM = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) or redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('sadd', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
# 1 renewed; 2 written back (Redis lost it, or it expired during an outage); 0 someone else holds it.
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('sadd', KEYS[2], ARGV[3])
  return 2
end
return 0
"""
# Only our own lease is deleted; a session someone else holds now stays in the active set.
_RELEASE = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('srem', KEYS[2], ARGV[2])
elseif not holder then
  redis.call('srem', KEYS[2], ARGV[2])
end
return 1
"""


def lease_key(session_id: str) -> str:
    return f"director:turn:{session_id}"


class RedisUnavailable(Exception):
    """Redis did not answer (or failed within the last second): the caller falls back."""


class _Link:
    """One Redis client that fails fast: after a failure, calls are skipped for ``RETRY_AFTER_S``."""

    def __init__(self, url: str):
        self.client = redis_client(url, COMMAND_TIMEOUT_S)
        self.where = redacted_url(url)
        self._skip_until = 0.0
        self._down = False

    def run(self, work: Callable[[redis.Redis], T]) -> T:
        if time.monotonic() < self._skip_until:
            raise RedisUnavailable()
        try:
            try:
                result = work(self.client)
            except redis.ConnectionError:
                if self._down:
                    raise
                # After a Redis restart every pooled connection is dead: drop them all and try once
                # more on a new one (every call here is safe to repeat), rather than failing once per
                # pooled connection and pausing a second each time. Only the idle ones: a connection
                # another thread is using is its to lose (closed under it, its command would fail
                # with an error no caller expects), and redis-py drops it when it fails.
                self.client.connection_pool.disconnect(inuse_connections=False)
                result = work(self.client)
        except (redis.RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER_S
            # No pooled connection to a Redis that went away is kept: the first call after it is back
            # must not fail on one and make every claim local for another second.
            self.client.connection_pool.disconnect(inuse_connections=False)
            if not self._down:
                self._down = True
                logger.warning(
                    "turn leases: %s unreachable (%s); busy claims are per process until it is back",
                    self.where,
                    exc,
                )
            raise RedisUnavailable() from exc
        if self._down:
            self._down = False
            logger.info("turn leases: %s reachable again; busy claims are cluster-wide", self.where)
        return result


class ClusterTurnRegistry(TurnRegistry):
    def __init__(
        self,
        url: str,
        lease_s: float,
        repair: Callable[[str], int],
        unfinished_sessions: Callable[[], list[str]],
        name: str = "",
    ):
        self.local = LocalTurnRegistry()
        self._url = url
        self._link = _Link(url)
        self.lease_s = lease_s
        self.renew_every_s = lease_s / 4
        self.sweep_every_s = lease_s / 2
        self._lease_ms = int(lease_s * 1000)
        self._repair = repair
        self._unfinished_sessions = unfinished_sessions
        self.token = f"{name or socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        client = self._link.client
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._to_check: set[str] = set()  # sessions to check besides the active set (start-up scan, retries)
        self._scanned = False
        self._suspects: dict[str, float] = {}  # session -> when first seen claimed without a lease
        self._conflicts: set[str] = set()
        self._stopping = threading.Event()
        self.listening = False

    @classmethod
    def for_db(cls, url: str, lease_s: float, db: BaseDB, name: str = "") -> ClusterTurnRegistry:
        return cls(
            url,
            lease_s,
            repair=lambda session_id: db.finish_unfinished_messages_of(session_id, as_interrupted),
            unfinished_sessions=db.unfinished_sessions,
            name=name,
        )

    # -- the claim -----------------------------------------------------------------------------------

    def claim(self, session_id: str) -> None:
        self.local.claim(session_id)  # busy here, or shutting down: refused without asking Redis
        try:
            claimed = self._take(session_id)
        except RedisUnavailable:
            _throttled.warning(
                "lease-claim", "turn leases: claimed session %s on this process only (Redis away)", session_id
            )
            return
        except BaseException:
            self.local.release(session_id)
            raise
        if not claimed:
            self.local.release(session_id)
            raise SessionBusyError(session_id)
        # We hold the lease, so no turn runs there: an answer still "progress" is a dead process's.
        self._repair_cut_answers(session_id)

    def _take(self, session_id: str) -> bool:
        keys = [lease_key(session_id), ACTIVE_SET]
        return bool(
            self._link.run(lambda client: self._claim(keys, [self.token, self._lease_ms, session_id]))
        )

    def _give_back(self, session_id: str) -> None:
        keys = [lease_key(session_id), ACTIVE_SET]
        self._link.run(lambda client: self._release(keys, [self.token, session_id]))

    def _repair_cut_answers(self, session_id: str) -> bool:
        try:
            count = self._repair(session_id)
        except Exception as exc:
            logger.warning(
                "could not mark the cut answers of session %s as interrupted (%s)", session_id, exc
            )
            return False
        if count:
            logger.info(
                "marked %d answer(s) of session %s cut by a dead process as interrupted", count, session_id
            )
        return True

    def release(self, session_id: str) -> None:
        # Redis first: released locally first, a new chat here would find our own lease and be refused.
        try:
            self._give_back(session_id)
        except RedisUnavailable:
            pass  # the lease expires by itself within lease_s
        finally:
            self.local.release(session_id)

    def stop(self, session_id: str, reason: StopReason = StopReason.USER) -> bool:
        if self.local.stop(session_id, reason):
            return True
        message = json.dumps({"session_id": session_id, "reason": reason.value})
        try:
            return bool(
                self._link.run(
                    lambda client: (
                        client.exists(lease_key(session_id)) and client.publish(STOP_CHANNEL, message) >= 0
                    )
                )
            )
        except RedisUnavailable:
            return False

    def is_busy(self, session_id: str) -> bool:
        if self.local.is_busy(session_id):
            return True
        try:
            return bool(self._link.run(lambda client: client.exists(lease_key(session_id))))
        except RedisUnavailable:
            return False

    # -- this process's own turns ------------------------------------------------------------------

    def attach(self, session_id: str, engine: Stoppable) -> None:
        self.local.attach(session_id, engine)

    def running(self) -> list[str]:
        return self.local.running()

    def stop_all(self) -> list[str]:
        return self.local.stop_all()

    @property
    def closed(self) -> bool:
        return self.local.closed

    def wait_idle(self, timeout_s: float) -> list[str]:
        return self.local.wait_idle(timeout_s)

    def unfinished(self) -> list[str]:
        return self.local.unfinished()

    def engines(self) -> dict[str, Stoppable]:
        return self.local.engines()

    # -- background work: renewing, sweeping, listening for stops -------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._maintain, name="turn-leases", daemon=True).start()
        threading.Thread(target=self._listen_for_stops, name="turn-stops", daemon=True).start()

    def close(self) -> None:
        """Stop the background threads (tests; a server process just exits)."""
        self._stopping.set()

    def _maintain(self) -> None:
        next_sweep = 0.0
        while not self._stopping.is_set():
            try:
                self.renew()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_every_s
                    self.sweep()
            except Exception:
                logger.exception("turn leases: renewing or sweeping failed")
            self._stopping.wait(self.renew_every_s)

    def renew(self) -> None:
        """Extend this process's leases; write back any Redis lost. Never stops a turn."""
        sessions = self.local.running()
        if not sessions:
            return

        def renew_all(client: redis.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for session_id in sessions:
                self._renew(
                    [lease_key(session_id), ACTIVE_SET], [self.token, self._lease_ms, session_id], client=pipe
                )
            return pipe.execute()

        try:
            results = self._link.run(renew_all)
        except RedisUnavailable:
            return  # the turns go on; their leases are written back once Redis answers
        for session_id, result in zip(sessions, results, strict=True):
            if result == 2:
                logger.info("turn leases: wrote back the lease of session %s (Redis had lost it)", session_id)
            if result == 0 and session_id not in self._conflicts:
                self._conflicts.add(session_id)
                # Taken over while we could not renew (an outage longer than the lease): both turns
                # finish and are saved; stopping ours would throw away an answer that is fine.
                logger.warning(
                    "turn leases: session %s was claimed elsewhere while its turn still runs here", session_id
                )
        self._conflicts.intersection_update(sessions)

    def sweep(self) -> list[str]:
        """Find claimed sessions whose lease expired; take each over and mark its cut answers
        interrupted. Returns the sessions repaired."""
        if not self._scanned:
            try:
                # Once: sessions left "progress" when every process (and Redis's data) went away.
                self._to_check.update(self._unfinished_sessions())
                self._scanned = True
            except Exception as exc:
                _throttled.warning("lease-scan", "turn leases: cannot read unfinished answers yet (%s)", exc)
        local = set(self.local.running())

        def leaseless(client: redis.Redis) -> list[str]:
            members = {m.decode() if isinstance(m, bytes) else m for m in client.smembers(ACTIVE_SET)}
            candidates = sorted((members | self._to_check) - local)
            if not candidates:
                return []
            pipe = client.pipeline(transaction=False)
            for session_id in candidates:
                pipe.exists(lease_key(session_id))
            leased = pipe.execute()
            self._to_check.difference_update(c for c, held in zip(candidates, leased, strict=True) if held)
            return [c for c, held in zip(candidates, leased, strict=True) if not held]

        try:
            missing = self._link.run(leaseless)
        except RedisUnavailable:
            return []
        now = time.monotonic()
        self._suspects = {sid: self._suspects.get(sid, now) for sid in missing}
        repaired = []
        for session_id, first_seen in list(self._suspects.items()):
            # A second sighting at least two renewals later: a live owner would have written it back.
            try:
                if now - first_seen >= 2 * self.renew_every_s and self._take_over(session_id):
                    repaired.append(session_id)
                    self._suspects.pop(session_id, None)
            except RedisUnavailable:
                break
        return repaired

    def _take_over(self, session_id: str) -> bool:
        if not self._take(session_id):
            return False  # a new turn claimed it meanwhile (and repaired it itself)
        try:
            repaired = self._repair_cut_answers(session_id)
        finally:
            self._give_back(session_id)
        if repaired:
            self._to_check.discard(session_id)
        else:
            self._to_check.add(session_id)  # the DB is away: try again next sweep
        return repaired

    def _listen_for_stops(self) -> None:
        while not self._stopping.is_set():
            client = redis_client(self._url, LISTEN_TIMEOUT_S, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(STOP_CHANNEL)
                if not self.listening:
                    logger.info("turn leases: listening for stop requests on %s", self._link.where)
                self.listening = True
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_stop_message(message.get("data"))
            except (redis.RedisError, OSError) as exc:
                self.listening = False
                _throttled.warning(
                    "lease-listen", "turn leases: stop requests not received (%s); retrying", exc
                )
            finally:
                close_quietly(pubsub, client)
            self._stopping.wait(LISTEN_RETRY_S)

    def _on_stop_message(self, data: Any) -> None:
        try:
            request = json.loads(data)
            session_id, reason = request["session_id"], StopReason(request["reason"])
        except (TypeError, ValueError, KeyError):
            logger.warning("turn leases: ignored a malformed stop request")
            return
        if self.local.stop(session_id, reason):
            logger.info("stop requested for session %s (from another process)", session_id)
