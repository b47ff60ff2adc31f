"""Send a feed's existing rows through the pipeline, in bounded, resumable batches.

Triggers only see writes made after a feed is installed. A backfill walks the
content table in key order and writes outbox events for the items whose embedding
is missing or was made from other text or another model, then walks the
interaction table the same way so that every profile and count gets built; the
relay and actors do the rest exactly as for live writes. Each batch is one short
statement that records where it stopped, so writers are never blocked and an
interrupted backfill resumes where it was. Workers start it by themselves for
feeds that never finished one, and again when a bulk import that paused capture
hands a feed back (``dnf_django.capture``); ``manage.py dnf_backfill`` runs it on
demand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg

from dnf_core.errors import BackfillError, InvalidArgument, NeuralFeedError
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.database import connect
from workers.reembed import target_identity
from workers.registry import FeedRegistry

logger = logging.getLogger(__name__)

PHASES = ("items", "interactions")
DEFAULT_BATCH = 2000
# A running worker looks for unfinished backfills this often even without being told,
# which covers a hand-back notified while its connection was down.
RECHECK_S = 60.0
# How often a waiting worker looks at its stop event.
STOP_CHECK_S = 1.0


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
    # Names the walk this position belongs to; None before its first batch is saved.
    started_at: datetime | None = None


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
        raise InvalidArgument(f"batch must be a positive integer, got {batch!r}")
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
        return replace(fresh, started_at=_save(conn, fresh, restart=True))
    row = conn.execute(load_sql("queries/backfill_state"), {"feed_id": feed_id, "phase": phase})
    found = row.fetchone()
    if found is None:
        return fresh
    last_key, scanned, queued, done, started_at = found
    return Progress(
        feed_id, phase, scanned, max(total, scanned), queued, done, last_key, started_at
    )


def _finished(conn: psycopg.Connection[Any], feed_id: str, phase: str) -> bool:
    params = {"feed_id": feed_id, "phase": phase}
    row = conn.execute(load_sql("queries/backfill_state"), params).fetchone()
    return bool(row and row[3])


def _step(conn: psycopg.Connection[Any], spec: FeedSpec, state: Progress, batch: int) -> Progress:
    """One batch of ``state``'s phase; the phase's new state.

    A bulk import that paused capture resets the phase (``dnf_django.capture``) while
    this walk may be past the rows it wrote: the save then refuses, and the walk
    starts over from the reset, so those rows are walked too.
    """
    params = {
        "feed_id": spec.feed_id,
        "after": state.last_key,
        "first": state.last_key is None,
        "batch": batch,
    }
    with conn.transaction():
        # Stale is what the workers would embed: a feed serving its model on another
        # backend than the spec declares is not re-embedded by a backfill.
        params["identity"] = target_identity(conn, spec)
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
            state.started_at,
        )
        started_at = _save(conn, new, restart=False)
    if started_at is None:
        logger.info(
            "feed %s: its %s were handed back to the backfill; walking them again",
            spec.feed_id,
            state.phase,
        )
        return _load(conn, spec.feed_id, state.phase, state.total, restart=False)
    return replace(new, started_at=started_at)


def _save(conn: psycopg.Connection[Any], state: Progress, *, restart: bool) -> datetime | None:
    """Record ``state``; the walk's ``started_at``, or None if the phase was reset under it."""
    row = conn.execute(
        load_sql("queries/backfill_save"),
        {
            "feed_id": state.feed_id,
            "phase": state.phase,
            "last_key": state.last_key,
            "scanned": state.scanned,
            "queued": state.queued,
            "done": state.done,
            "restart": restart,
            "started_at": state.started_at,
        },
    ).fetchone()
    return row[0] if row else None


def backfill_unfinished(database_url: str, stop: threading.Event) -> None:
    """Backfill every installed feed whose backfill never finished, once.

    A session advisory lock per feed lets one worker do it while the others skip it.
    Errors are logged and recorded (``dnf_status`` reports them), not raised: the next
    worker start tries again from where it stopped, and ``manage.py dnf_backfill`` is
    there to run it by hand.
    """
    try:
        with connect(database_url, autocommit=True) as conn:
            _backfill_pass(conn, stop)
    except (psycopg.Error, OSError, NeuralFeedError) as exc:
        logger.error("backfill on start-up stopped: %s; it resumes at the next start", exc)


def backfill_watch(
    database_url: str, stop: threading.Event, *, recheck_s: float = RECHECK_S
) -> None:
    """Backfill unfinished feeds at start, then whenever one is handed back, until ``stop``.

    A bulk import that paused capture (``dnf_django.capture.paused``) resets its feeds'
    phases and notifies ``dnf_backfill`` when it commits; this wakes on that, and looks
    every ``recheck_s`` seconds anyway. Each look costs one small query per feed and
    phase when everything is finished. Errors are logged and recorded, as for
    :func:`backfill_unfinished`; a lost connection is opened again after ``recheck_s``.
    """
    while not stop.is_set():
        try:
            with connect(database_url, autocommit=True) as conn:
                # Listening before the first look: a hand-back committed during a walk
                # waits in the connection's backlog and starts the next look at once.
                conn.execute(load_sql("queries/backfill_listen"))
                while not stop.is_set():
                    _backfill_pass(conn, stop)
                    _wait_for_hand_back(conn, stop, recheck_s)
        except (psycopg.Error, OSError, NeuralFeedError) as exc:
            logger.error("backfill stopped: %s; it resumes in %.0fs", exc, recheck_s)
            stop.wait(recheck_s)


def _wait_for_hand_back(
    conn: psycopg.Connection[Any], stop: threading.Event, recheck_s: float
) -> None:
    """Return on a ``dnf_backfill`` notification, after ``recheck_s``, or on ``stop``."""
    deadline = time.monotonic() + recheck_s
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if list(conn.notifies(timeout=min(left, STOP_CHECK_S), stop_after=1)):
            # One look serves every hand-back so far.
            list(conn.notifies(timeout=0))
            return


def _backfill_pass(conn: psycopg.Connection[Any], stop: threading.Event) -> None:
    """Walk every installed feed whose backfill is unfinished and not locked by another."""
    for spec in FeedRegistry().all(conn):
        if stop.is_set():
            return
        try:
            _backfill_locked(conn, spec, stop)
        except BackfillError as exc:
            # Recorded for dnf_status; the other feeds still get theirs.
            logger.error("%s; it resumes at the next look or dnf_backfill", exc)


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
