"""Keep the feed's rank vectors (stage one of the feed query) in step with their sources.

A rank vector follows the item's embedding, its freshness field and its interaction
count, so the actors that change those call :func:`write_ranks` in the same
transaction. The ``rank`` task does it on its own for the items a rebase or a
truncate names.
"""

from __future__ import annotations

import logging
from typing import Any

from dnf_core.events import Task, TaskKind
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.actors.factors import refresh_likers, write_factors
from workers.runtime import Runtime

logger = logging.getLogger(__name__)

# Freshness and popularity coordinates are stretched by this much in the rank vectors
# (and the query's shrunk by as much, so products are unchanged): the HNSW graph then
# links items by freshness and popularity too, not by text alone. Measured on the feed
# benchmark's data: recall of the hybrid top 20 at ef_search 200 was 0.93 with 1, 0.97
# with 2, 0.93 with 4.
COORD_SCALE = 2.0
# Coordinates are capped here (in units of their reference point) and a rebase is due
# once one passes REBASE_AT, so caps are rarely reached.
COORDINATE_CAP = 1.5
REBASE_AT = 1.25
# Rows whose freshness coordinate is below this are left alone by a rebase: their
# contribution to stage one is under 0.1% of the freshness weight either way.
FRESH_FLOOR = 2.0**-10
REBASE_COOLDOWN_S = 600.0


def write_ranks(conn: Any, spec: FeedSpec, keys: list[str]) -> bool:
    """Rewrite the rank vectors of ``keys``; True when the feed's reference points are due
    to move (call :func:`rebase` once the transaction commits)."""
    if not keys:
        return False
    conn.execute(
        load_sql("queries/rank_state"),
        {
            "feed_id": spec.feed_id,
            "half_life_s": spec.freshness_half_life_hours * 3600.0,
            "coord_scale": COORD_SCALE,
        },
    )
    (largest,) = conn.execute(
        feed_query("rank_refresh", spec),
        {
            "feed_id": spec.feed_id,
            "keys": keys,
            "cap": COORDINATE_CAP,
        },
    ).fetchone()
    return bool(largest > REBASE_AT)


def rebase(runtime: Runtime, spec: FeedSpec) -> None:
    """Move the feed's reference points to now and queue the rows that change with them.

    Between the move and the rewrite, the queued rows rank slightly off in stage one;
    stage two scores exactly, so feeds stay correct, only less complete for a moment.
    """
    conn = runtime.connections.get()
    with conn.transaction():
        keys = tuple(
            row[0]
            for row in conn.execute(
                load_sql("queries/rank_rebase"),
                {
                    "feed_id": spec.feed_id,
                    "cooldown_s": REBASE_COOLDOWN_S,
                    "fresh_floor": FRESH_FLOOR,
                },
            )
        )
    if keys:
        logger.info("feed %s: rank reference points moved, %d rows queued", spec.feed_id, len(keys))
        runtime.send_chunked(Task(TaskKind.RANK, spec.feed_id, keys))


def refresh_ranks(runtime: Runtime, feed_id: str, keys: list[str]) -> None:
    """The ``rank`` task: rewrite the rank vectors of ``keys``, and their collaborative
    vectors in the same transaction (a truncate names the items it removed here)."""
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    with conn.transaction():
        due = write_ranks(conn, spec, keys)
        likers = write_factors(conn, spec, keys)
    if due:
        rebase(runtime, spec)
    refresh_likers(runtime, spec, likers)
