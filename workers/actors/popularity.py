"""Recount item popularity from the interaction table, per touched item."""

from __future__ import annotations

from dnf_core.events import TaskKind
from dnf_core.queries import feed_query
from dnf_core.sqlfiles import load_sql
from workers.actors.factors import refresh_likers, schedule_factors, write_factors
from workers.actors.rank import rebase, write_ranks
from workers.failures import clear_failures
from workers.runtime import Runtime


def recount_popularity(runtime: Runtime, feed_id: str, items: list[str]) -> None:
    """Store the current interaction count of each item (idempotent, order-independent),
    the rank vectors that carry it and the collaborative vectors its likes make; the
    profiles that read a collaborative vector that changed follow."""
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    name = "popularity_recount_signed" if spec.interaction_value_column else "popularity_recount"
    with conn.transaction():
        conn.execute(
            load_sql("queries/advisory_locks"), {"scope": f"popularity:{feed_id}", "keys": items}
        )
        conn.execute(feed_query(name, spec), {"keys": items, "feed_id": feed_id})
        due = write_ranks(conn, spec, items)
        likers = write_factors(conn, spec, items)
        clear_failures(conn, feed_id, TaskKind.POPULARITY, items)
    if due:
        rebase(runtime, spec)
    # Queued only now: a profile refresh must read the committed vectors.
    refresh_likers(runtime, spec, likers)
    # What co-interactions say about items changed: the basis is relearned too.
    schedule_factors(runtime, spec)
