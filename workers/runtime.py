"""What every actor needs at hand: connections, feed specs, and a way to send follow-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dnf_core.events import BatchLimits, Task
from workers.database import ThreadConnections
from workers.registry import FeedRegistry


@dataclass
class Runtime:
    """Shared state of one worker process."""

    connections: ThreadConnections
    send: Callable[[Task], None]
    registry: FeedRegistry = field(default_factory=FeedRegistry)
    limits: BatchLimits = field(default_factory=BatchLimits)

    def send_chunked(self, task: Task, size: int) -> None:
        """Send ``task``'s keys as several tasks of at most ``size`` keys."""
        for start in range(0, len(task.keys), size):
            self.send(Task(task.kind, task.feed_id, task.keys[start : start + size]))
