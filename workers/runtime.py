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

    def send_chunked(self, task: Task) -> None:
        """Send ``task`` split into messages of the size its kind may carry."""
        for part in self.limits.split(task):
            self.send(part)
