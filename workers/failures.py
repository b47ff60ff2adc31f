"""Failure records in ``dnf_failure``: what could not be processed, and why.

Items the encoder rejects are recorded by the embedding actor; messages that
exhausted their retries are recorded by :class:`FailureRecorder`. A later success
for the same key clears its record, so the table lists what is broken now.
``manage.py dnf_retry_failed`` puts them back into the outbox.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
import psycopg
from dramatiq.broker import MessageProxy

from dnf_core.events import TaskKind
from dnf_core.sqlfiles import load_sql
from workers.database import ThreadConnections

logger = logging.getLogger(__name__)

# Keys of failures that are not about one key (a reset, say).
NO_KEY = ""


def record_failures(
    conn: psycopg.Connection[Any], feed_id: str, task: TaskKind, keys: list[str], error: str
) -> None:
    """Record (or bump) one failure per key."""
    conn.execute(
        load_sql("queries/failures_record"),
        {"feed_id": feed_id, "task": task.value, "keys": keys or [NO_KEY], "error": error[-4000:]},
    )


def clear_failures(
    conn: psycopg.Connection[Any], feed_id: str, task: TaskKind, keys: list[str]
) -> None:
    """Forget the failures of keys that have now been processed."""
    if keys:
        conn.execute(
            load_sql("queries/failures_clear"),
            {"feed_id": feed_id, "task": task.value, "keys": keys},
        )


class FailureRecorder(dramatiq.Middleware):
    """Records a message in ``dnf_failure`` when Dramatiq gives up on it (dead-letters it)."""

    def __init__(self, connections: ThreadConnections) -> None:
        self.connections = connections

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        name = message.actor_name.removeprefix("dnf_")
        if name not in TaskKind.__members__.values() or len(message.args) != 2:
            return
        feed_id, keys = message.args
        error = str(message.options.get("traceback") or "retries exhausted")
        try:
            conn = self.connections.get()
            with conn.transaction():
                record_failures(conn, feed_id, TaskKind(name), list(keys), error)
        except Exception:
            # The message is in the dead-letter queue either way; say so loudly.
            logger.exception("could not record the failure of message %s", message.message_id)
