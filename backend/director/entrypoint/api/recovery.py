"""Start-up repair of answers a dead process left half-written.

A server killed mid-turn (SIGKILL, OOM, power loss) leaves its answer stored as ``progress``. Left so,
every reader would show it as still being written, even while the same session runs a new turn. So
once, before this process serves anything, such rows are rewritten in storage as interrupted
(``as_interrupted``): from then on every reader sees the truth.

One process serves a database (gunicorn runs one worker), so any ``progress`` row older than this
process is a dead one's.
"""

from __future__ import annotations

import logging
import threading
import time

from director.core.session import as_interrupted
from director.db.base import BaseDB

logger = logging.getLogger(__name__)

RETRY_EVERY_S = 5.0


def finish_interrupted_answers(db: BaseDB, started_at: float | None = None) -> None:
    """Mark answers cut by a crash as interrupted. When the DB cannot be reached yet (PostgreSQL still
    starting), retry in the background: only rows written before ``started_at`` are touched, so turns
    this process runs meanwhile are never mistaken for cut ones."""
    started_at = time.time() if started_at is None else started_at
    if _attempt(db, started_at):
        return
    threading.Thread(target=_retry, args=(db, started_at), name="recover-interrupted", daemon=True).start()


def _attempt(db: BaseDB, started_at: float) -> bool:
    try:
        count = db.finish_unfinished_messages(started_at, as_interrupted)
    except Exception as exc:
        logger.warning("could not mark answers cut by a crash as interrupted yet (%s); retrying", exc)
        return False
    if count:
        logger.info("marked %d answer(s) cut by a crash as interrupted", count)
    return True


def _retry(db: BaseDB, started_at: float) -> None:
    while True:
        time.sleep(RETRY_EVERY_S)
        if _attempt(db, started_at):
            return
