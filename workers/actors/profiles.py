"""Recompute user profiles, one SQL statement per batch of users."""

from __future__ import annotations

import numpy as np

from dnf_core.events import TaskKind
from dnf_core.queries import feed_query
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
    params: dict[str, object] = {"users": users, "feed_id": feed_id, "window": spec.window}
    name = "profiles_refresh"
    if spec.interaction_value_column is not None:
        name = "profiles_refresh_signed"
        params["zero"] = np.zeros(spec.dimension, dtype=np.float32)
        params["dislike_scale"] = np.full(spec.dimension, spec.dislike_weight, dtype=np.float32)
    with conn.transaction():
        conn.execute(
            load_sql("queries/advisory_locks"), {"scope": f"profile:{feed_id}", "keys": users}
        )
        conn.execute(feed_query(name, spec), params)
        clear_failures(conn, feed_id, TaskKind.PROFILES, users)
