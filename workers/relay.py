"""The relay: moves outbox rows to Dramatiq, losing none.

LISTEN wakes it as soon as a writer commits; polling covers notifications missed while
it was down or disconnected. Each batch is claimed with ``FOR UPDATE SKIP LOCKED``,
coalesced into tasks, enqueued, and only then deleted, in the claiming transaction:
a crash before the commit leaves the rows for the next claim (at-least-once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from dnf_core.errors import ServiceError
from dnf_core.events import BatchLimits, EventKind, OutboxEvent, Task, plan_tasks
from dnf_core.sqlfiles import load_sql
from workers.database import connect

logger = logging.getLogger(__name__)

CHANNEL = "dnf_outbox"


class Relay:
    """Claims outbox batches and hands their tasks to ``send``."""

    def __init__(
        self,
        database_url: str,
        send: Callable[[Task], None],
        *,
        batch_size: int = 1000,
        poll_interval: float = 2.0,
        limits: BatchLimits | None = None,
    ) -> None:
        if batch_size < 1 or poll_interval <= 0:
            raise ValueError("batch_size must be >= 1 and poll_interval > 0")
        self.database_url = database_url
        self.send = send
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.limits = limits or BatchLimits()
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the claiming connection (:meth:`run` closes its own on exit)."""
        self._conn = self._discard(self._conn)

    def relay_batch(self) -> int:
        """Claim, enqueue and delete one batch; return how many rows it moved."""
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                rows = cur.execute(
                    load_sql("queries/outbox_claim"), {"limit": self.batch_size}
                ).fetchall()
                if not rows:
                    return 0
                events = [
                    OutboxEvent(
                        id=r[0], feed_id=r[1], kind=EventKind(r[2]), item_key=r[3], user_key=r[4]
                    )
                    for r in rows
                ]
                for task in plan_tasks(events, self.limits):
                    self.send(task)
                cur.execute(load_sql("queries/outbox_delete"), {"ids": [e.id for e in events]})
            return len(rows)
        except psycopg.OperationalError:
            self.close()
            raise

    def drain(self) -> int:
        """Relay batches until the outbox is empty; return the number of rows moved."""
        total = 0
        while moved := self.relay_batch():
            total += moved
        return total

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, surviving Postgres and broker outages."""
        listener: psycopg.Connection[Any] | None = None
        backoff = 0.5
        while not stop.is_set():
            try:
                if listener is None or listener.closed or listener.broken:
                    listener = connect(self.database_url, autocommit=True)
                    listener.execute(f"LISTEN {CHANNEL}")
                    logger.info("relay listening on %s", CHANNEL)
                self.drain()
                backoff = 0.5
                # Returns on the first notification or after the poll interval,
                # whichever comes first; the loop then drains again either way.
                for _ in listener.notifies(timeout=self.poll_interval, stop_after=1):
                    pass
            except (psycopg.OperationalError, ServiceError) as exc:
                logger.warning("relay lost Postgres (%s); retrying in %.1fs", exc, backoff)
                listener = self._discard(listener)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:
                # Broker down or similar: the claim rolled back, rows stay in the outbox.
                logger.exception("relay could not enqueue; rows stay in the outbox")
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self._discard(listener)
        self.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.database_url, autocommit=True)
        return self._conn

    @staticmethod
    def _discard(conn: psycopg.Connection[Any] | None) -> None:
        if conn is not None:
            conn.close()
        return None
