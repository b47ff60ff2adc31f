"""Writes the database refused (read-only, no privilege, disk full), recorded in Redis.

When Postgres refuses the workers' writes, it refuses the failure record in
``dnf_failure`` too, so the refusal is recorded where ``dnf_status`` can still read
it: a Redis hash, one field per feed and task kind (``relay`` for the relay), holding
the latest refused write. A later message of the same feed and task that succeeds
deletes its field, so the hash lists what is refused now. One field per feed and
task, not one for the whole process: a privilege revoked on one content table refuses
embeddings while profiles and counts still succeed, and must not be hidden by them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
import psycopg
import redis
from dramatiq.broker import MessageProxy

# The hash and its records are read by dnf_status too, which runs without redis-py.
from dnf_core.broker_layout import REFUSALS, RELAY, WriteRefusal, refusal_record, write_refusals
from dnf_core.events import TaskKind

__all__ = [
    "REFUSALS",
    "RELAY",
    "WriteRefusal",
    "WriteRefusalRecorder",
    "clear_refusal",
    "record_refusal",
    "refusal_of",
    "source_of",
    "write_refusals",
]

logger = logging.getLogger(__name__)

# SQLSTATEs of a database that refuses a write whatever the data: a read-only
# transaction (a standby, default_transaction_read_only) and a missing privilege.
_REFUSED_STATES = frozenset({"25006", "42501"})
# Whole classes: insufficient resources (disk full, out of memory, too many
# connections) and system errors (I/O errors).
_REFUSED_CLASSES = frozenset({"53", "58"})


def refusal_of(exc: BaseException) -> psycopg.Error | None:
    """The database refusal that caused ``exc`` (itself or a cause), or None.

    Follows ``__cause__`` and ``__context__``: a refusal often surfaces wrapped, as a
    connection error of our own or a failed rollback.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.Error) and _is_refusal(current.sqlstate):
            return current
        current = current.__cause__ or current.__context__
    return None


def _is_refusal(sqlstate: str | None) -> bool:
    return sqlstate is not None and (
        sqlstate in _REFUSED_STATES or sqlstate[:2] in _REFUSED_CLASSES
    )


def record_refusal(client: redis.Redis, source: str, error: psycopg.Error) -> None:
    """Record that the database refused a write of ``source`` (``feed:task`` or relay)."""
    text = f"{type(error).__name__}: {str(error).strip()}"[:1000]
    client.hset(REFUSALS, source, refusal_record(text, time.time()))


def clear_refusal(client: redis.Redis, source: str) -> None:
    """Forget the refusal of ``source``: its writes succeed again."""
    client.hdel(REFUSALS, source)


def source_of(feed_id: str, task: TaskKind) -> str:
    """The field of ``feed_id``'s ``task`` in the refusals hash."""
    return f"{feed_id}:{task.value}"


class WriteRefusalRecorder(dramatiq.Middleware):
    """Records each actor message the database refused, and clears it on success."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        name = message.actor_name.removeprefix("dnf_")
        if name not in TaskKind.__members__.values() or len(message.args) != 2:
            return
        source = source_of(str(message.args[0]), TaskKind(name))
        refusal = None if exception is None else refusal_of(exception)
        try:
            if refusal is not None:
                record_refusal(self.client, source, refusal)
            elif exception is None:
                clear_refusal(self.client, source)
        except redis.RedisError:
            # The broker is what is down then; the message's own retry shows it again.
            logger.exception("could not record the database refusal of %s", source)
