"""Re-embed a feed with a new model while it keeps serving the old vectors.

A feed's embedding column, its profiles and its rank vectors all hold vectors of one
model, recorded in ``dnf_embedding_model``. When the installed spec names another
model, the embed actor writes that model's vectors to ``dnf_embedding_next`` instead
of the column, so nothing the feed ranks with mixes the two. A re-embedding walks
the content table queuing the items that have no next vector yet (the relay and
workers do the encoding), waits until every item has one, then swaps them in with
one transaction that also moves the recorded model and queues the events that make
profiles and rank vectors follow. The next vectors persist, so an interrupted
re-embedding resumes where it was; ``manage.py dnf_reembed`` drives it.

A move to another backend of the same model (``ENCODER_BACKEND``, see
:mod:`dnf_core.encoders.backends`) needs no next store: the backends' vectors are
interchangeable, so the move records the new backend first and re-embeds the items
in place, walking the table like a backfill; the feed keeps serving throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from dnf_core.encoders.backends import embedding_target
from dnf_core.errors import ConfigurationError, InvalidArgument
from dnf_core.identifiers import quote_identifier
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql

DEFAULT_BATCH = 2000
POLL_S = 2.0
# Without progress for this long, the missing items are queued again: their events
# may have been handled by a worker that still had the old spec cached.
REQUEUE_AFTER_S = 60.0


def serving_identity(conn: psycopg.Connection[Any], spec: FeedSpec) -> str:
    """The model whose vectors ``spec``'s feed serves, share-locked until the
    transaction ends; a feed seen for the first time serves its installed model."""
    params = {"feed_id": spec.feed_id, "identity": spec.embedding_identity}
    row = conn.execute(load_sql("queries/embedding_model_read"), params).fetchone()
    if row is None:
        conn.execute(load_sql("queries/embedding_model_init"), params)
        row = conn.execute(load_sql("queries/embedding_model_read"), params).fetchone()
    assert row is not None
    return str(row[0])


def target_identity(conn: psycopg.Connection[Any], spec: FeedSpec) -> str:
    """The identity the workers embed ``spec``'s items with now: the declared one, or
    the recorded backend of the same model. Reads only (the relay's role backfills,
    and may not lock the row)."""
    params = {"feed_id": spec.feed_id}
    row = conn.execute(load_sql("queries/embedding_model_serving"), params).fetchone()
    target, _ = embedding_target(spec, str(row[0]) if row else spec.embedding_identity)
    return target.embedding_identity


def identity_dimension(identity: str) -> int:
    """The dimension part of an ``encoder:model:dimension`` identity."""
    _, _, dimension = identity.rpartition(":")
    if not dimension.isdigit():
        raise ConfigurationError(f"embedding identity {identity!r} does not end in a dimension")
    return int(dimension)


def column_dimension(conn: psycopg.Connection[Any], spec: FeedSpec) -> int | None:
    """The dimension the embedding column is declared with (None: not a vector(n))."""
    params = {"table": quote_identifier(spec.content_table), "column": spec.embedding_column}
    row = conn.execute(load_sql("queries/column_type"), params).fetchone()
    declared = str(row[0]) if row else ""
    if declared.startswith("vector(") and declared.endswith(")"):
        return int(declared[len("vector(") : -1])
    return None


@dataclass(frozen=True)
class Progress:
    """Where a re-embedding stands: items, those with their new vector, those rejected."""

    feed_id: str
    total: int
    done: int
    failed: int

    @property
    def pending(self) -> int:
        """Items still waiting for a vector of the new model."""
        return self.total - self.done - self.failed


def progress(conn: psycopg.Connection[Any], spec: FeedSpec) -> Progress:
    """Count the items that have a vector of ``spec``'s model for their current text."""
    params = {"feed_id": spec.feed_id, "identity": spec.embedding_identity}
    row = conn.execute(feed_query("reembed_progress", spec), params).fetchone()
    total, done, failed = row if row else (0, 0, 0)
    return Progress(spec.feed_id, total, done, failed)


def queue_missing(
    conn: psycopg.Connection[Any], spec: FeedSpec, *, batch: int = DEFAULT_BATCH
) -> int:
    """Queue every item without a vector of the new model; return how many.

    ``conn`` must be in autocommit mode: each batch is one short statement, so
    writers are never blocked. Next vectors of an earlier, abandoned model go first.
    """
    _check_batch(batch)
    conn.execute(
        load_sql("queries/reembed_discard"),
        {"feed_id": spec.feed_id, "identity": spec.embedding_identity},
    )
    return _queue_walk(conn, spec, "reembed_queue", batch)


@dataclass(frozen=True)
class Swap:
    """What a swap did: vectors swapped in, items left to embed again, feeds moved."""

    swapped: int
    requeued: int
    feeds: tuple[str, ...]


def swap(conn: psycopg.Connection[Any], spec: FeedSpec, sharing: list[FeedSpec]) -> Swap:
    """Swap the next vectors into the embedding column, in one transaction.

    ``sharing`` are the other installed feeds embedding into the same column: they
    move to the new model too, and their profiles and rank vectors follow as well.
    The feed keeps serving throughout: until the commit, readers see the old vectors.
    """
    identity = spec.embedding_identity
    feeds = [spec, *sharing]
    with conn.transaction():
        for feed in feeds:
            conn.execute(load_sql("queries/embedding_model_lock"), {"feed_id": feed.feed_id})
        params = {"feed_id": spec.feed_id, "identity": identity}
        swapped = conn.execute(feed_query("reembed_swap_vectors", spec), params).rowcount
        row = conn.execute(feed_query("reembed_swap_leftover", spec), params).fetchone()
        requeued = int(row[0]) if row else 0
        for feed in feeds:
            feed_params = {
                "feed_id": feed.feed_id,
                "identity": identity,
                "dimension": spec.dimension,
            }
            conn.execute(load_sql("queries/reembed_swap_profiles"), feed_params)
            conn.execute(feed_query("reembed_swap_follow", feed), feed_params)
            conn.execute(load_sql("queries/embedding_model_set"), feed_params)
            conn.execute(load_sql("queries/reembed_swap_discard"), feed_params)
            conn.execute(load_sql("queries/outbox_notify"), feed_params)
    return Swap(swapped, requeued, tuple(feed.feed_id for feed in feeds))


def move_backend(conn: psycopg.Connection[Any], spec: FeedSpec, sharing: list[FeedSpec]) -> None:
    """Record that ``spec``'s feed, and ``sharing`` (feeds embedding into the same
    column), now serve ``spec``'s backend: the workers embed with it from now on, and
    :func:`queue_stale` sends them the items that other backends made."""
    with conn.transaction():
        for feed in [spec, *sharing]:
            conn.execute(load_sql("queries/embedding_model_lock"), {"feed_id": feed.feed_id})
        for feed in [spec, *sharing]:
            params = {"feed_id": feed.feed_id, "identity": spec.embedding_identity}
            conn.execute(load_sql("queries/embedding_model_set"), params)


def in_place_progress(conn: psycopg.Connection[Any], spec: FeedSpec) -> Progress:
    """Count the items whose column vector ``spec``'s backend made from their text."""
    params = {"feed_id": spec.feed_id, "identity": spec.embedding_identity}
    row = conn.execute(feed_query("reembed_inplace_progress", spec), params).fetchone()
    total, done, failed = row if row else (0, 0, 0)
    return Progress(spec.feed_id, total, done, failed)


def queue_stale(
    conn: psycopg.Connection[Any], spec: FeedSpec, *, batch: int = DEFAULT_BATCH
) -> int:
    """Queue every item whose column vector was not made by ``spec``'s model and
    backend from its current text (a backfill's walk, without its bookkeeping)."""
    _check_batch(batch)
    return _queue_walk(conn, spec, "backfill_items", batch)


def _check_batch(batch: Any) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidArgument(f"batch must be a positive integer, got {batch!r}")


def _queue_walk(conn: psycopg.Connection[Any], spec: FeedSpec, query: str, batch: int) -> int:
    """Walk the content table by key, ``batch`` rows per short transaction, queueing
    what ``query`` selects for ``spec``'s model and backend; how many were queued."""
    params: dict[str, Any] = {"feed_id": spec.feed_id, "identity": spec.embedding_identity}
    after, queued = None, 0
    while True:
        with conn.transaction():
            row = conn.execute(
                feed_query(query, spec),
                params | {"after": after, "first": after is None, "batch": batch},
            ).fetchone()
            last_key, scanned, count = row if row else (None, 0, 0)
            if count:
                conn.execute(load_sql("queries/outbox_notify"), {"feed_id": spec.feed_id})
        queued += count
        after = last_key if last_key is not None else after
        if scanned < batch:
            return queued


def wait_complete(
    conn: psycopg.Connection[Any],
    spec: FeedSpec,
    *,
    report: Callable[[Progress], None] = lambda _: None,
    poll_s: float = POLL_S,
    requeue_after_s: float = REQUEUE_AFTER_S,
    timeout_s: float | None = None,
    batch: int = DEFAULT_BATCH,
    in_place: bool = False,
) -> Progress:
    """Poll until no item waits for its new vector (or ``timeout_s`` passes).

    Items stuck without progress for ``requeue_after_s`` are queued again.
    ``in_place``: a move to another backend (:func:`move_backend`).
    """
    measure = in_place_progress if in_place else progress
    requeue = queue_stale if in_place else queue_missing
    start = last_change = time.monotonic()
    state = measure(conn, spec)
    report(state)
    while state.pending > 0:
        now = time.monotonic()
        if timeout_s is not None and now - start > timeout_s:
            return state
        if now - last_change > requeue_after_s:
            requeue(conn, spec, batch=batch)
            last_change = now
        time.sleep(poll_s)
        new = measure(conn, spec)
        if new.done != state.done:
            last_change = time.monotonic()
        state = new
        report(state)
    return state
