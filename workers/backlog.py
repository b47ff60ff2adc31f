"""How much work is waiting: outbox rows not yet relayed, messages not yet acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import redis

from dnf_core.sqlfiles import load_sql
from workers.dispatch import EMBED_QUEUE, FEED_QUEUE, MAINTENANCE_QUEUE

# Dramatiq's Redis broker keeps each message body in "<ns>:<queue>.msgs" from enqueue
# until the actor acknowledges it (retries wait in the ".DQ" delay queue meanwhile).
# A maintenance task counts once it is due, not while it waits for its time.
_MESSAGE_HASHES = (
    *(
        f"dramatiq:{queue}{suffix}.msgs"
        for queue in (EMBED_QUEUE, FEED_QUEUE)
        for suffix in ("", ".DQ")
    ),
    f"dramatiq:{MAINTENANCE_QUEUE}.msgs",
)


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
    """Count both; a read-only snapshot, safe to call from any process."""
    row = conn.execute(load_sql("queries/outbox_count")).fetchone()
    outbox = int(row[0]) if row else 0
    return Backlog(outbox=outbox, messages=pending_messages(broker))


def pending_messages(broker: redis.Redis) -> int:
    """Messages enqueued or waiting for a retry and not yet acknowledged, all feeds."""
    pipe = broker.pipeline()
    for key in _MESSAGE_HASHES:
        pipe.hlen(key)
    return sum(int(n) for n in pipe.execute())
