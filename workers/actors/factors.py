"""A feed's collaborative vectors: the basis learned as a whole, items folded in as likes come.

A like or unlike refolds the item's vector into the current basis in the transaction
that recounts it (:func:`write_factors`, called by the popularity actor), and the
profiles of the item's likers follow; so a like moves the collaborative part within
the latency of those actors. The basis itself (one row per user, see
:mod:`workers.factorization`) is relearned by the ``factors`` task, scheduled by the
popularity actor after a quiet delay and at most once per interval
(``DNF_FACTORS_DELAY_S``, ``DNF_FACTORS_INTERVAL_S``). A rebuild is one transaction:
new basis, every item vector folded from it, and every profile of the feed, so no
reader ever mixes two bases.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from dnf_core.errors import ConfigurationError
from dnf_core.events import Task, TaskKind
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.actors.profiles import lock_factors, write_profiles
from workers.factorization import learn_basis
from workers.runtime import Runtime

logger = logging.getLogger(__name__)

# Rows per statement when a rebuild rewrites profiles and rank vectors.
_CHUNK = 1000


@dataclass(frozen=True)
class FactorSchedule:
    """When rebuilds happen: ``delay_s`` after the first like since the last one, and
    at least ``interval_s`` apart."""

    delay_s: float = 30.0
    interval_s: float = 600.0

    @classmethod
    def from_env(cls) -> FactorSchedule:
        values = {}
        for name, variable in (
            ("delay_s", "DNF_FACTORS_DELAY_S"),
            ("interval_s", "DNF_FACTORS_INTERVAL_S"),
        ):
            raw = os.environ.get(variable)
            if raw is None:
                continue
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{variable} must be a number of seconds, got {raw!r}"
                ) from None
            if values[name] < 0:
                raise ConfigurationError(f"{variable} must be >= 0, got {raw!r}")
        return cls(**values)


def schedule_factors(runtime: Runtime, spec: FeedSpec) -> None:
    """Queue a rebuild of ``spec``'s collaborative vectors unless one is pending."""
    if not spec.collaborative_dimension:
        return
    schedule = FactorSchedule.from_env()
    conn = runtime.connections.get()
    with conn.transaction():
        row = conn.execute(
            load_sql("queries/factors_schedule"),
            {
                "feed_id": spec.feed_id,
                "delay_s": schedule.delay_s,
                "interval_s": schedule.interval_s,
            },
        ).fetchone()
    if row is not None:
        runtime.send(Task(TaskKind.FACTORS, spec.feed_id, (), delay_s=float(row[0])))


def build_factors(runtime: Runtime, feed_id: str, _keys: list[str]) -> None:
    """The ``factors`` task: learn the basis, fold every liked item into it, then
    rewrite every profile with the new vectors."""
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    started = time.monotonic()
    name = "factor_interactions_signed" if spec.interaction_value_column else "factor_interactions"
    with conn.transaction():
        pairs = conn.execute(feed_query(name, spec)).fetchall()
    basis = learn_basis(
        [user for user, _ in pairs], [item for _, item in pairs], spec.collaborative_dimension
    )
    params = {"feed_id": feed_id}
    items = sorted({item for _, item in pairs})
    with conn.transaction():
        lock_factors(conn, spec, exclusive=True)
        conn.execute(load_sql("queries/factors_clear"), params)
        keys = sorted(basis.rows)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            conn.execute(
                load_sql("queries/factors_basis_write"),
                {"feed_id": feed_id, "keys": chunk, "factors": [basis.rows[k] for k in chunk]},
            )
        # The same fold a like runs: right after a rebuild, every vector is what the
        # incremental definition gives (items liked since the read above included).
        for start in range(0, len(items), _CHUNK):
            _fold(conn, spec, items[start : start + _CHUNK])
        users = [row[0] for row in conn.execute(load_sql("queries/feed_profile_users"), params)]
        for start in range(0, len(users), _CHUNK):
            write_profiles(conn, spec, users[start : start + _CHUNK])
        conn.execute(
            load_sql("queries/factors_built"),
            {
                "feed_id": feed_id,
                "users": basis.users,
                "items": len(items),
                "interactions": len(pairs),
            },
        )
    logger.info(
        "feed %s: collaborative basis of rank %d (weight %.2f) from %d users, %d items, "
        "%d interactions in %.1fs",
        feed_id,
        basis.rank,
        basis.weight,
        basis.users,
        len(items),
        len(pairs),
        time.monotonic() - started,
    )


def write_factors(conn: Any, spec: FeedSpec, items: list[str]) -> list[str]:
    """Refold the collaborative vectors of ``items`` in the caller's transaction.

    Their vectors follow their current likes (a gone item loses its vector); returns
    the users whose profiles read a vector that changed, to be refreshed once the
    transaction commits (:func:`refresh_likers`).
    """
    if not spec.collaborative_dimension or not items:
        return []
    lock_factors(conn, spec, exclusive=False)
    # Per item, as the popularity actor orders its recounts: the embed and rank
    # actors fold too, and the last to commit must have read the latest likes.
    conn.execute(
        load_sql("queries/advisory_locks"), {"scope": f"factor:{spec.feed_id}", "keys": items}
    )
    changed = _fold(conn, spec, items)
    if not changed:
        return []
    return [row[0] for row in conn.execute(feed_query("items_likers", spec), {"keys": changed})]


def refresh_likers(runtime: Runtime, spec: FeedSpec, users: list[str]) -> None:
    """Queue the profiles :func:`write_factors` said must follow (after its commit)."""
    if users:
        runtime.send_chunked(Task(TaskKind.PROFILES, spec.feed_id, tuple(sorted(set(users)))))


def _fold(conn: Any, spec: FeedSpec, items: list[str]) -> list[str]:
    name = "factors_fold_signed" if spec.interaction_value_column else "factors_fold"
    return [
        row[0]
        for row in conn.execute(
            feed_query(name, spec),
            {"feed_id": spec.feed_id, "keys": items, "dimension": spec.collaborative_dimension},
        )
    ]
