"""The Redis message queue that lets several server processes act as one (``DIRECTOR_MESSAGE_QUEUE``).

Flask-SocketIO's own scale-out engine: every ``emit`` is delivered to this process's clients at once
and published on a Redis channel (by a sender thread, many events per round trip: queue_sender.py);
every process listens on that channel and delivers what others published to its own clients. So a
client receives a turn's events whichever process runs the turn.

Imported only when ``DIRECTOR_MESSAGE_QUEUE`` is set (``make run`` never imports redis).

``RedisQueue`` keeps python-socketio's ``RedisManager`` protocol and channel, and changes what
happens while Redis is away, so that an outage costs only the events other processes would have got:
- publishing fails fast and then skips Redis for ``RETRY_AFTER_S`` (a turn streaming hundreds of
  deltas must not wait on a dead Redis for each one), and the dropped events are logged once a
  minute with a count instead of two error lines per delta;
- the listener reconnects every ``LISTEN_RETRY_S`` instead of backing off to a minute, so the
  processes find each other again within a couple of seconds of Redis coming back.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry

from director.entrypoint.api.queue_sender import BatchSender
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

CHANNEL = "director-socketio"
CONNECT_TIMEOUT_S = 1.0
# A publish is one small command: a Redis that does not answer within this is treated as down.
COMMAND_TIMEOUT_S = 1.0
RETRY_AFTER_S = 1.0
LISTEN_RETRY_S = 0.5
# The subscription's own liveness check (see _redis_listen_with_retries).
HEALTH_CHECK_S = 10
LISTEN_TIMEOUT_S = 5.0
# Connections per client (publisher, turn leases) and process; see redis_client.
POOL_CONNECTIONS = 64


def redacted_url(url: str) -> str:
    """``url`` without its password, for log lines and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def url_password(url: str) -> str | None:
    return urlsplit(url).password


def redis_client(url: str, command_timeout_s: float, health_check_interval: int = 0) -> redis.Redis:
    # No retries inside redis-py: its default retries with backoff would hold a turn's emit for
    # seconds; RedisQueue decides itself when to try again.
    # A blocking pool: redis-py's default pool raises "Too many connections" once 100 threads use
    # it at once (200 concurrent turns on 2 processes did), which read as Redis being down: events
    # went undelivered and claims local. Commands take well under a millisecond, so a thread past
    # POOL_CONNECTIONS waits for a free connection instead (at most the command timeout).
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_CONNECTIONS,
        timeout=command_timeout_s,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=command_timeout_s,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=health_check_interval,
    )
    return redis.Redis(connection_pool=pool)


def ping(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used (``None`` when it answers PING)."""
    try:
        client = redis_client(url, COMMAND_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def close_quietly(pubsub: Any, client: redis.Redis) -> None:
    """End a listener's subscription and connection; a dead connection has nothing left to close."""
    try:
        pubsub.close()
        client.close()
    except Exception:
        pass


# What routing_first puts at the start of an emit: enough to route it without decoding the payload.
# Only plain ids (session ids, Socket.IO sids, namespaces): anything else is decoded in full.
_ROUTE = re.compile(
    rb'\{"method": "emit", "host_id": "([0-9a-f]+)", "namespace": "([\w/.-]+)", "room": "([\w.-]+)", '
)
_ROUTING_FIELDS = ("method", "host_id", "namespace", "room")


def routing_first(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with the fields a receiver routes by first (JSON keys are unordered to readers)."""
    return {key: message[key] for key in _ROUTING_FIELDS if key in message} | message


class RedisQueue(socketio.RedisManager):
    def __init__(self, url: str):
        super().__init__(url, channel=CHANNEL)
        self._publisher = redis_client(url, COMMAND_TIMEOUT_S)
        self._where = redacted_url(url)
        self._lock = threading.Lock()
        self._skip_until = 0.0  # monotonic time before which publishing does not try Redis
        self._down = False
        self.listening = False  # the listener is subscribed (this process receives others' events)
        self.sender = BatchSender(self._publish_batch, self._undeliverable)

    def _publish(self, data: dict[str, Any]) -> None:
        # The emitting thread (a turn's) only queues the event: queue_sender.py says why.
        self.sender.put(data)

    def _publish_batch(self, batch: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        if now < self._skip_until:
            for data in batch:
                self._undeliverable(data, "not reachable")
            return
        pipe = self._publisher.pipeline(transaction=False)
        for data in batch:
            pipe.publish(self.channel, self.json.dumps(routing_first(data)))
        try:
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self._skip_until = time.monotonic() + RETRY_AFTER_S
                self._down = True
            for data in batch:
                self._undeliverable(data, str(exc) or type(exc).__name__)
            return
        if self._down:
            with self._lock:
                self._down = False
            logger.info("message queue %s is reachable again: events reach every process", self._where)

    def _undeliverable(self, data: dict[str, Any], why: str) -> None:
        # This process's own clients already got the event (PubSubManager delivers locally first).
        _throttled.warning(
            "queue-publish",
            "message queue %s unreachable (%s): %s event not delivered to other processes",
            self._where,
            why,
            data.get("event") or data.get("method"),
        )

    def _listen(self) -> Iterator[Any]:
        # Every process receives every event published by every process, its own included. Most are
        # for a room none of this process's sockets is in (a session's tabs usually sit on the process
        # that runs its turn): those are dropped here from their routing fields, before the payload
        # is decoded and re-encoded for nobody.
        for data in super()._listen():
            if self._for_nobody_here(data):
                continue
            yield data

    def _for_nobody_here(self, data: Any) -> bool:
        route = _ROUTE.match(data) if isinstance(data, bytes) else None
        if route is None:
            return False  # another publisher's layout: decode it as python-socketio does
        host, namespace, room = (part.decode() for part in route.groups())
        if host == self.host_id:
            return True  # delivered locally when it was emitted (PubSubManager.emit)
        return not self.rooms.get(namespace, {}).get(room)

    def _redis_listen_with_retries(self) -> Iterator[dict[str, Any]]:
        while True:
            client = redis_client(self.redis_url, LISTEN_TIMEOUT_S, health_check_interval=HEALTH_CHECK_S)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                if not self.listening:
                    logger.info("listening on message queue %s", self._where)
                self.listening = True
                while True:
                    # Polling with a timeout rather than a blocking listen(): an idle subscription then
                    # pings Redis every HEALTH_CHECK_S, so a Redis host that vanished without closing
                    # the connection (a dead machine, a cut network) is noticed, not waited on forever.
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        yield message
            except (redis.RedisError, OSError) as exc:
                if self.listening:
                    logger.warning("lost message queue %s (%s): reconnecting", self._where, exc)
                else:
                    _throttled.warning(
                        "queue-listen",
                        "cannot subscribe to message queue %s (%s): retrying",
                        self._where,
                        exc,
                    )
                self.listening = False
            finally:
                close_quietly(pubsub, client)
            time.sleep(LISTEN_RETRY_S)

    def healthy(self) -> bool:
        """Redis answers and this process is subscribed (used by /health, behind a cache)."""
        if not self.listening:
            return False
        try:
            return bool(self._publisher.ping())
        except (redis.RedisError, OSError):
            return False
