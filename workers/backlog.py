"""How much work is waiting: outbox rows not yet relayed, messages not yet acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import redis

# Counted where dnf_status counts them too (it reads the broker without redis-py).
from dnf_core.broker_layout import pending_messages
from dnf_core.sqlfiles import load_sql
from workers.database import broker_namespace

__all__ = ["Backlog", "measure_backlog", "pending_messages"]


@dataclass(frozen=True)
class Backlog:
    """Outbox rows and broker messages still to be processed."""

    outbox: int
    messages: int

    @property
    def idle(self) -> bool:
        """Nothing left to relay and nothing left to perform."""
        return self.outbox == 0 and self.messages == 0


def measure_backlog(conn: psycopg.Connection[Any], broker: redis.Redis) -> Backlog:
    """Count both, the messages in ``conn``'s database's queues only; a read-only
    snapshot, safe to call from any process."""
    row = conn.execute(load_sql("queries/outbox_count")).fetchone()
    outbox = int(row[0]) if row else 0
    return Backlog(outbox=outbox, messages=pending_messages(broker, broker_namespace(conn)))
