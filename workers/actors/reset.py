"""After a TRUNCATE: recompute every profile, count, rank and collaborative vector the feed
holds."""

from __future__ import annotations

from dnf_core.events import Task, TaskKind
from dnf_core.sqlfiles import load_sql
from workers.runtime import Runtime


def reset_feed(runtime: Runtime, feed_id: str, _keys: list[str]) -> None:
    """Fan out recomputations instead of deleting, so the reset commutes with other tasks."""
    conn = runtime.connections.get()
    params = {"feed_id": feed_id}
    with conn.transaction():
        users = tuple(r[0] for r in conn.execute(load_sql("queries/feed_profile_users"), params))
        items = tuple(r[0] for r in conn.execute(load_sql("queries/feed_stat_items"), params))
        ranked = {r[0] for r in conn.execute(load_sql("queries/feed_rank_items"), params)}
        ranked |= {r[0] for r in conn.execute(load_sql("queries/feed_factor_items"), params)}
    runtime.send_chunked(Task(TaskKind.PROFILES, feed_id, users))
    runtime.send_chunked(Task(TaskKind.POPULARITY, feed_id, items))
    # Rank and collaborative rows of items a truncate removed are deleted together by
    # their refresh (the popularity recount does both for the counted items).
    runtime.send_chunked(Task(TaskKind.RANK, feed_id, tuple(sorted(ranked - set(items)))))
