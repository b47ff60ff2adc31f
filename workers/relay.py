"""The relay: moves outbox rows to Dramatiq, losing none.

LISTEN wakes it as soon as a writer commits; polling covers notifications missed while
it was down or disconnected. Each batch is claimed with ``FOR UPDATE SKIP LOCKED``,
coalesced into tasks, enqueued, and only then deleted, in the claiming transaction:
a crash before the commit leaves the rows for the next claim (at-least-once).

The LISTEN connection may have a URL of its own: a transaction-pooling proxy would
hand the listening session's server connection to others, whereas each claim is one
transaction and passes through such a proxy unharmed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from dnf_core.errors import ServiceError
from dnf_core.events import BatchLimits, Task, events_of_row, plan_tasks
from dnf_core.sqlfiles import load_sql
from workers.database import connect

logger = logging.getLogger(__name__)

CHANNEL = "dnf_outbox"
# Retry delays after a failure: short enough that work resumes soon after Postgres or the
# broker comes back, long enough not to hammer a service that is still starting.
MIN_BACKOFF_S = 0.25
MAX_BACKOFF_S = 5.0
# A waiting relay looks at its stop event this often, so a long poll interval never
# delays a shutdown.
STOP_CHECK_S = 0.5

# What a lost or restarting Postgres raises: reconnect both connections, then carry on.
_POSTGRES_LOST = (psycopg.OperationalError, psycopg.InterfaceError, ServiceError)


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
        listen_url: str | None = None,
        on_outcome: Callable[[BaseException | None], None] | None = None,
        coalesce_s: float = 0.0,
    ) -> None:
        if batch_size < 1 or poll_interval <= 0 or coalesce_s < 0:
            raise ValueError("batch_size must be >= 1, poll_interval > 0 and coalesce_s >= 0")
        self.database_url = database_url
        self.listen_url = listen_url or database_url
        self.send = send
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.limits = limits or BatchLimits()
        # Told of each round's failure, or None once the outbox is drained: the worker
        # process records the database's refusals where dnf_status reads them.
        self.on_outcome = on_outcome
        # No claim sooner than this after the last one that moved rows (see _gather).
        self.coalesce_s = coalesce_s
        self._moved_at: float | None = None
        self._conn: psycopg.Connection[Any] | None = None
        # None until the first success: a relay that never reached Postgres is not healthy.
        self._progress_at: float | None = None

    def progress_age(self) -> float:
        """Seconds since :meth:`run` last moved a batch or found the outbox empty.

        A relay that is retrying after a failure, or stuck in a call, makes none;
        infinite before the first success.
        """
        if self._progress_at is None:
            return float("inf")
        return time.monotonic() - self._progress_at

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the claiming connection (:meth:`run` closes its own on exit)."""
        self._conn = self._discard(self._conn)

    def relay_batch(self) -> int:
        """Claim, enqueue and delete one batch; return how many rows it moved.

        If ``send`` raises, the claim rolls back and every row of the batch stays in the
        outbox, including those whose tasks were already enqueued: they will be sent
        again, which actors tolerate, whereas deleting them could lose work.
        """
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                rows = cur.execute(
                    load_sql("queries/outbox_claim"), {"limit": self.batch_size}
                ).fetchall()
                if not rows:
                    return 0
                events = [event for row in rows for event in events_of_row(*row)]
                for task in plan_tasks(events, self.limits):
                    self.send(task)
                cur.execute(load_sql("queries/outbox_delete"), {"ids": [row[0] for row in rows]})
            return len(rows)
        except (psycopg.OperationalError, psycopg.InterfaceError):
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
        backoff = MIN_BACKOFF_S
        last_failure: type[BaseException] | None = None
        try:
            while not stop.is_set():
                try:
                    if listener is None or listener.closed or listener.broken:
                        listener = connect(self.listen_url, autocommit=True)
                        listener.execute(f"LISTEN {CHANNEL}")
                        logger.info("relay listening on %s", CHANNEL)
                    while not stop.is_set() and (moved := self.relay_batch()):
                        self._progress_at = self._moved_at = time.monotonic()
                        if moved < self.batch_size:
                            # The claim emptied the outbox: rows found by another claim
                            # now would be writes that just committed, one or two at a
                            # time; _wait gathers them (the NOTIFY is already pending).
                            break
                    self._progress_at = time.monotonic()
                    backoff, last_failure = MIN_BACKOFF_S, None
                    self._report(None)
                    self._wait(listener, stop)
                except _POSTGRES_LOST as exc:
                    logger.warning("relay lost Postgres (%s); retrying in %.2fs", exc, backoff)
                    listener = self._discard(listener)
                    self.close()
                    self._report(exc)
                    backoff = self._pause(stop, backoff)
                except Exception as exc:
                    # Broker down, most likely: the claim rolled back, rows stay in the outbox.
                    # The traceback once per kind of failure, not once per retry.
                    logger.warning(
                        "relay could not move a batch (%s: %s); its rows stay in the outbox, "
                        "retrying in %.2fs",
                        type(exc).__name__,
                        exc,
                        backoff,
                        exc_info=type(exc) is not last_failure,
                    )
                    last_failure = type(exc)
                    self._report(exc)
                    backoff = self._pause(stop, backoff)
        finally:
            self._discard(listener)
            self.close()

    def _report(self, failure: BaseException | None) -> None:
        """Pass a round's outcome to ``on_outcome``, if any, without ever raising."""
        if self.on_outcome is None:
            return
        try:
            self.on_outcome(failure)
        except Exception:
            # Reporting must not stop the relay; the failure itself is logged above.
            logger.exception("relay could not report the outcome of a round")

    @staticmethod
    def _pause(stop: threading.Event, backoff: float) -> float:
        """Wait ``backoff`` (less if stopped); return the next, longer one."""
        stop.wait(backoff)
        return min(backoff * 2, MAX_BACKOFF_S)

    def _wait(self, listener: psycopg.Connection[Any], stop: threading.Event) -> None:
        """Return on the first NOTIFY, after the poll interval, or soon after ``stop``."""
        deadline = time.monotonic() + self.poll_interval
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            # Consumed to the end, never abandoned: a suspended generator holds the lock.
            if list(listener.notifies(timeout=min(left, STOP_CHECK_S), stop_after=1)):
                # The drain that follows covers every statement committed so far, so the
                # rest of a burst of notifications needs no drain of its own.
                list(listener.notifies(timeout=0))
                self._gather(stop)
                return

    def _gather(self, stop: threading.Event) -> None:
        """Wait until ``coalesce_s`` has passed since the last batch that moved rows.

        After a quiet spell the first NOTIFY is served at once. Under a stream of small
        writes (one like per transaction), claiming on every NOTIFY would send one
        message per event and task kind, and the actors would spend their time on
        per-message overhead; waiting lets each claim take what committed meanwhile,
        so a message carries many keys, at a latency cost of at most ``coalesce_s``.
        """
        if self._moved_at is not None:
            left = self._moved_at + self.coalesce_s - time.monotonic()
            if left > 0:
                stop.wait(left)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.database_url, autocommit=True)
        return self._conn

    @staticmethod
    def _discard(conn: psycopg.Connection[Any] | None) -> None:
        if conn is not None:
            conn.close()
        return None
