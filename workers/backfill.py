"""Send a feed's existing rows through the pipeline, in bounded, resumable batches.

Triggers only see writes made after a feed is installed. A backfill walks the
content table in key order and writes outbox events for the items whose embedding
is missing or was made from other text or another model, then walks the
interaction table the same way so that every profile and count gets built; the
relay and actors do the rest exactly as for live writes. Each batch is one short
statement that records where it stopped, so writers are never blocked and an
interrupted backfill resumes where it was. Workers start it by themselves for
feeds that never finished one; ``manage.py dnf_backfill`` runs it on demand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from dnf_core.errors import BackfillError
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.database import connect
from workers.registry import FeedRegistry

logger = logging.getLogger(__name__)

PHASES = ("items", "interactions")
DEFAULT_BATCH = 2000


@dataclass(frozen=True)
class Progress:
    """Where one phase of one feed's backfill stands."""

    feed_id: str
    phase: str
    scanned: int
    total: int
    queued: int
    done: bool
    last_key: str | None = None


def backfill(
    conn: psycopg.Connection[Any],
    spec: FeedSpec,
    *,
    batch: int = DEFAULT_BATCH,
    restart: bool = False,
    report: Callable[[Progress], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> list[Progress]:
    """Queue ``spec``'s existing items and interactions; return each phase's state.

    ``conn`` must be in autocommit mode: every batch is its own transaction.
    ``restart`` walks from the start again, even over finished phases. The items
    phase queues only items whose stored hash does not match their text and model,
    so a second run after a complete one queues no item. ``stop`` ends the walk
    between batches, its position saved. A database error stops the walk: it is
    recorded in the phase's row and raised as :class:`BackfillError`.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    finals: list[Progress] = []
    state = Progress(spec.feed_id, PHASES[0], 0, 0, 0, False)
    try:
        row = conn.execute(feed_query("backfill_totals", spec)).fetchone()
        totals = dict(zip(PHASES, row or (0, 0), strict=True))
        for phase in PHASES:
            state = _load(conn, spec.feed_id, phase, totals[phase], restart)
            while not state.done and not (stop is not None and stop.is_set()):
                state = _step(conn, spec, state, batch)
                report(state)
            finals.append(state)
    except psycopg.Error as exc:
        raise _failed(conn, state, exc) from exc
    return finals


def _failed(conn: psycopg.Connection[Any], state: Progress, exc: psycopg.Error) -> BackfillError:
    """Record why ``state``'s phase stopped, and the error to raise for it."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f" after key {state.last_key!r}" if state.last_key is not None else ""
    error = BackfillError(
        f"feed {state.feed_id}: the backfill of its {state.phase} stopped{where}: {reason}"
    )
    params = {"feed_id": state.feed_id, "phase": state.phase, "error": str(error)}
    try:
        conn.execute(load_sql("queries/backfill_fail"), params)
    except psycopg.Error as record_exc:
        # The database that refused the batch may refuse this too; the caller still
        # gets the original error.
        logger.error("could not record the failed backfill: %s", record_exc)
    return error


def _load(
    conn: psycopg.Connection[Any], feed_id: str, phase: str, total: int, restart: bool
) -> Progress:
    fresh = Progress(feed_id, phase, 0, total, 0, False)
    if restart:
        _save(conn, fresh, restart=True)
        return fresh
    row = conn.execute(load_sql("queries/backfill_state"), {"feed_id": feed_id, "phase": phase})
    found = row.fetchone()
    if found is None:
        return fresh
    last_key, scanned, queued, done = found
    return Progress(feed_id, phase, scanned, max(total, scanned), queued, done, last_key)


def _finished(conn: psycopg.Connection[Any], feed_id: str, phase: str) -> bool:
    params = {"feed_id": feed_id, "phase": phase}
    row = conn.execute(load_sql("queries/backfill_state"), params).fetchone()
    return bool(row and row[3])


def _step(conn: psycopg.Connection[Any], spec: FeedSpec, state: Progress, batch: int) -> Progress:
    params = {
        "feed_id": spec.feed_id,
        "after": state.last_key,
        "first": state.last_key is None,
        "batch": batch,
        "identity": spec.embedding_identity,
    }
    with conn.transaction():
        row = conn.execute(feed_query(f"backfill_{state.phase}", spec), params).fetchone()
        last_key, scanned, queued = row if row else (None, 0, 0)
        if queued:
            conn.execute(load_sql("queries/outbox_notify"), {"feed_id": spec.feed_id})
        new = Progress(
            spec.feed_id,
            state.phase,
            state.scanned + scanned,
            max(state.total, state.scanned + scanned),
            state.queued + queued,
            scanned < batch,
            last_key if last_key is not None else state.last_key,
        )
        _save(conn, new, restart=False)
    return new


def _save(conn: psycopg.Connection[Any], state: Progress, *, restart: bool) -> None:
    conn.execute(
        load_sql("queries/backfill_save"),
        {
            "feed_id": state.feed_id,
            "phase": state.phase,
            "last_key": state.last_key,
            "scanned": state.scanned,
            "queued": state.queued,
            "done": state.done,
            "restart": restart,
        },
    )


def backfill_unfinished(database_url: str, stop: threading.Event) -> None:
    """Backfill every installed feed whose backfill never finished; for worker start-up.

    A session advisory lock per feed lets one worker do it while the others skip it.
    Errors are logged and recorded (``dnf_status`` reports them), not raised: the next
    worker start tries again from where it stopped, and ``manage.py dnf_backfill`` is
    there to run it by hand.
    """
    try:
        with connect(database_url, autocommit=True) as conn:
            for spec in FeedRegistry().all(conn):
                if stop.is_set():
                    return
                try:
                    _backfill_locked(conn, spec, stop)
                except BackfillError as exc:
                    # Recorded for dnf_status; the other feeds still get theirs.
                    logger.error("%s; it resumes at the next start or dnf_backfill", exc)
    except (psycopg.Error, OSError) as exc:
        logger.error("backfill on start-up stopped: %s; it resumes at the next start", exc)


def _backfill_locked(conn: psycopg.Connection[Any], spec: FeedSpec, stop: threading.Event) -> None:
    # Most starts find every backfill finished: check that before counting the tables.
    if all(_finished(conn, spec.feed_id, phase) for phase in PHASES):
        return
    with feed_lock(conn, spec.feed_id) as locked:
        if not locked:
            return
        finals = backfill(conn, spec, stop=stop)
    queued = {state.phase: state.queued for state in finals}
    if any(queued.values()):
        logger.info("feed %s: backfill queued %s", spec.feed_id, queued)


@contextmanager
def feed_lock(conn: psycopg.Connection[Any], feed_id: str) -> Iterator[bool]:
    """Try to become the one backfilling ``feed_id``; yields whether that worked."""
    params = {"feed_id": feed_id}
    row = conn.execute(load_sql("queries/backfill_lock"), params).fetchone()
    locked = bool(row and row[0])
    try:
        yield locked
    finally:
        if locked:
            conn.execute(load_sql("queries/backfill_unlock"), params)
