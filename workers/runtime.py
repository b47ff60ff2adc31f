"""What every actor needs at hand: connections, feed specs, and a way to send follow-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from dnf_core.events import BatchLimits, Task
from workers.registry import FeedRegistry


class ConnectionSource(Protocol):
    """Where an actor gets its connection: one per thread in a worker
    (:class:`workers.database.ThreadConnections`), or the caller's own when tasks run
    in-process (:mod:`workers.inline`)."""

    def get(self) -> psycopg.Connection[Any]:
        """The connection the calling thread may use now."""
        ...


@dataclass
class Runtime:
    """Shared state of one worker process."""

    connections: ConnectionSource
    send: Callable[[Task], None]
    registry: FeedRegistry = field(default_factory=FeedRegistry)
    limits: BatchLimits = field(default_factory=BatchLimits)

    def send_chunked(self, task: Task) -> None:
        """Send ``task`` split into messages of the size its kind may carry."""
        for part in self.limits.split(task):
            self.send(part)
