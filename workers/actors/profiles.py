"""Recompute user profiles, one SQL statement per batch of users."""

from __future__ import annotations

from dnf_core.queries import feed_query
from dnf_core.sqlfiles import load_sql
from workers.runtime import Runtime


def refresh_profiles(runtime: Runtime, feed_id: str, users: list[str]) -> None:
    """Set each user's profile to the L2-normalized mean of their recent embedded likes.

    Users with no such like left lose their profile. Per-user advisory locks order
    concurrent refreshes, so the last one to commit always saw the latest likes.
    """
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    with conn.transaction():
        conn.execute(
            load_sql("queries/advisory_locks"), {"scope": f"profile:{feed_id}", "keys": users}
        )
        conn.execute(
            feed_query("profiles_refresh", spec),
            {"users": users, "feed_id": feed_id, "window": spec.window},
        )
