"""Maps tasks to Dramatiq messages, so the relay can enqueue without declaring actors."""

from __future__ import annotations

from dramatiq import Broker, Message

from dnf_core.events import Task, TaskKind

EMBED_QUEUE = "dnf_embed"
FEED_QUEUE = "dnf_feed"


def queue_for(kind: TaskKind) -> str:
    """Embedding is CPU-bound and slow; it gets its own queue so it never delays profiles."""
    return EMBED_QUEUE if kind is TaskKind.EMBED else FEED_QUEUE


def actor_name(kind: TaskKind) -> str:
    """The Dramatiq actor name that performs tasks of ``kind``."""
    return f"dnf_{kind.value}"


class Dispatcher:
    """Enqueues tasks on a broker as plain messages (keys only, never payload state)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def send(self, task: Task) -> None:
        """Enqueue one task; raises whatever the broker raises, so callers can keep rows."""
        message: Message[object] = Message(
            queue_name=queue_for(task.kind),
            actor_name=actor_name(task.kind),
            args=(task.feed_id, list(task.keys)),
            kwargs={},
            options={},
        )
        self.broker.enqueue(message)
