"""Dramatiq actors: one module per unit of work, declared on a broker at start-up."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
from dramatiq import Broker

from dnf_core.events import TaskKind
from workers.actors.embed import embed_items
from workers.actors.factors import build_factors
from workers.actors.popularity import recount_popularity
from workers.actors.profiles import refresh_profiles
from workers.actors.rank import refresh_ranks
from workers.actors.reset import reset_feed
from workers.dispatch import actor_name, queue_for
from workers.runtime import Runtime

__all__ = [
    "HANDLERS",
    "build_factors",
    "declare_actors",
    "embed_items",
    "recount_popularity",
    "refresh_profiles",
    "refresh_ranks",
    "reset_feed",
]

# What performs each task kind: the actors declared below, or a caller of its own.
HANDLERS: dict[TaskKind, Callable[[Runtime, str, list[str]], object]] = {
    TaskKind.EMBED: embed_items,
    TaskKind.PROFILES: refresh_profiles,
    TaskKind.POPULARITY: recount_popularity,
    TaskKind.RANK: refresh_ranks,
    TaskKind.FACTORS: build_factors,
    TaskKind.RESET: reset_feed,
}

# Bounded so a stuck call is retried instead of holding a thread forever.
_TIME_LIMIT_MS = {TaskKind.EMBED: 10 * 60_000, TaskKind.FACTORS: 60 * 60_000}
_DEFAULT_TIME_LIMIT_MS = 2 * 60_000
# Dramatiq's default backoff grows to 7 days; a feed should recover within minutes
# of its database or model coming back.
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 5 * 60_000


def declare_actors(
    broker: Broker, runtime: Runtime, *, namespace: str, max_retries: int = 20
) -> dict[TaskKind, dramatiq.Actor[..., object]]:
    """Declare one actor per task kind on ``broker``, bound to ``runtime``, consuming the
    queues of broker namespace ``namespace`` (``runtime``'s database's).

    Actors are built here rather than at import time, so importing this package never
    creates or touches a broker.
    """
    actors: dict[TaskKind, dramatiq.Actor[..., object]] = {}
    for kind, handler in HANDLERS.items():

        def perform(
            feed_id: str, keys: list[str], _handler: Callable[..., object] = handler
        ) -> None:
            _handler(runtime, feed_id, keys)

        actors[kind] = dramatiq.actor(
            actor_name=actor_name(kind),
            queue_name=queue_for(kind, namespace),
            broker=broker,
            time_limit=_TIME_LIMIT_MS.get(kind, _DEFAULT_TIME_LIMIT_MS),
            max_retries=max_retries,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
        )(perform)
    return actors
