"""Recompute user profiles, one SQL statement per batch of users."""

from __future__ import annotations

from typing import Any

from dnf_core.events import TaskKind
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.failures import clear_failures
from workers.runtime import Runtime


def refresh_profiles(runtime: Runtime, feed_id: str, users: list[str]) -> None:
    """Set each user's profile from their recent embedded interactions (see the SQL).

    Users with no such interaction left lose their profile. Per-user advisory locks
    order concurrent refreshes, so the last one to commit always saw the latest likes.
    """
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    with conn.transaction():
        conn.execute(
            load_sql("queries/advisory_locks"), {"scope": f"profile:{feed_id}", "keys": users}
        )
        lock_factors(conn, spec, exclusive=False)
        write_profiles(conn, spec, users)
        clear_failures(conn, feed_id, TaskKind.PROFILES, users)


def write_profiles(conn: Any, spec: FeedSpec, users: list[str]) -> None:
    """Recompute the profiles of ``users`` in the caller's transaction."""
    params: dict[str, object] = {"users": users, "feed_id": spec.feed_id, "window": spec.window}
    name = "profiles_refresh"
    if spec.interaction_value_column is not None:
        name = "profiles_refresh_signed"
        params["dislike_weight"] = float(spec.dislike_weight)
    conn.execute(feed_query(name, spec), params)


def lock_factors(conn: Any, spec: FeedSpec, *, exclusive: bool) -> None:
    """Hold the feed's collaborative vectors still for this transaction (see the SQL)."""
    if spec.collaborative_dimension:
        conn.execute(
            load_sql("queries/factors_lock"), {"feed_id": spec.feed_id, "exclusive": exclusive}
        )
