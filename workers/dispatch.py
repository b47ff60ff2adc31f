"""Maps tasks to Dramatiq messages, so the relay can enqueue without declaring actors."""

from __future__ import annotations

import time

from dramatiq import Broker, Message

# Queue names are part of the broker's layout, which dnf_status reads without workers.
from dnf_core.broker_layout import (
    EMBED_QUEUE,
    FEED_QUEUE,
    MAINTENANCE_QUEUE,
    QUEUES,
    WRITTEN_AT,
    queue_name,
)
from dnf_core.events import Task, TaskKind

__all__ = [
    "EMBED_QUEUE",
    "FEED_QUEUE",
    "MAINTENANCE_QUEUE",
    "QUEUES",
    "Dispatcher",
    "actor_name",
    "queue_for",
    "queue_name",
]


def queue_for(kind: TaskKind, namespace: str) -> str:
    """The queue of ``kind``'s tasks for the database whose broker namespace is ``namespace``.

    Embedding is CPU-bound and slow; it gets its own queue so it never delays profiles.
    """
    if kind is TaskKind.EMBED:
        base = EMBED_QUEUE
    else:
        base = MAINTENANCE_QUEUE if kind is TaskKind.FACTORS else FEED_QUEUE
    return queue_name(base, namespace)


def actor_name(kind: TaskKind) -> str:
    """The Dramatiq actor name that performs tasks of ``kind``."""
    return f"dnf_{kind.value}"


class Dispatcher:
    """Enqueues tasks on a broker as plain messages (keys only, never payload state)."""

    def __init__(self, broker: Broker, *, namespace: str) -> None:
        # The database's broker namespace (workers.database.broker_namespace): the
        # actors of that database, and only they, consume these queues.
        self.broker = broker
        self.namespace = namespace

    def send(self, task: Task) -> None:
        """Enqueue one task; raises whatever the broker raises, so callers can keep rows."""
        message: Message[object] = Message(
            queue_name=queue_for(task.kind, self.namespace),
            actor_name=actor_name(task.kind),
            args=(task.feed_id, list(task.keys)),
            kwargs={},
            # On the relay's clock, as the actor's measure of the delay reads it.
            options={} if task.age_s is None else {WRITTEN_AT: time.time() - task.age_s},
        )
        delay = round(task.delay_s * 1000) if task.delay_s > 0 else None
        self.broker.enqueue(message, delay=delay)
