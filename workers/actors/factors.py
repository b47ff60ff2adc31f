"""Learn a feed's collaborative item vectors from its interactions, as a whole.

New likes change a user's profile at once (from the current vectors); the vectors
themselves are rebuilt by this task, scheduled by the popularity actor after a quiet
delay and at most once per interval (``DNF_FACTORS_DELAY_S``, ``DNF_FACTORS_INTERVAL_S``).
A rebuild is one transaction: new vectors and every profile of the feed, so no
reader ever mixes two bases.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from dnf_core.errors import ConfigurationError
from dnf_core.events import Task, TaskKind
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.actors.profiles import lock_factors, write_profiles
from workers.factorization import learn_factors
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
    """The ``factors`` task: learn the vectors, then rewrite every profile with them."""
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    started = time.monotonic()
    name = "factor_interactions_signed" if spec.interaction_value_column else "factor_interactions"
    with conn.transaction():
        pairs = conn.execute(feed_query(name, spec)).fetchall()
    factors = learn_factors(
        [user for user, _ in pairs], [item for _, item in pairs], spec.collaborative_dimension
    )
    params = {"feed_id": feed_id}
    with conn.transaction():
        lock_factors(conn, spec, exclusive=True)
        conn.execute(load_sql("queries/factors_clear"), params)
        keys = sorted(factors)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            conn.execute(
                load_sql("queries/factors_write"),
                {"feed_id": feed_id, "keys": chunk, "factors": [factors[k] for k in chunk]},
            )
        users = [row[0] for row in conn.execute(load_sql("queries/feed_profile_users"), params)]
        for start in range(0, len(users), _CHUNK):
            write_profiles(conn, spec, users[start : start + _CHUNK])
        conn.execute(
            load_sql("queries/factors_built"),
            {
                "feed_id": feed_id,
                "users": len({user for user, _ in pairs}),
                "items": len(factors),
                "interactions": len(pairs),
            },
        )
    logger.info(
        "feed %s: collaborative vectors for %d items from %d interactions in %.1fs",
        feed_id,
        len(factors),
        len(pairs),
        time.monotonic() - started,
    )
