"""Stage one of the feed query: candidate ids, from indexes only.

The union of the items with the best text, freshness and popularity score (one
inner-product HNSW search over the feed's rank vectors), the most co-liked (the
collaborative vectors' own HNSW index, users with a collaborative profile), the
freshest (an index on the freshness field) and the most popular (the maintained
counts), each within the caller's filters. Stage two scores only these exactly, so a
request never scans the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from dnf_core.ddl import rank_dimension
from dnf_core.identifiers import quote_literal
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql


@dataclass(frozen=True)
class CandidatePools:
    """How many candidates each source contributes before re-ranking.

    ``similarity`` is the rank-vector search, which ranks by text, freshness and
    popularity at once; ``collaborative`` searches the collaborative vectors; the
    freshest and most popular pools are kept for custom expressions, which rank
    vectors cannot carry.
    """

    similarity: int = 100
    freshness: int = 100
    popularity: int = 100
    collaborative: int = 100


def compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """SQL and parameters Django would send for ``queryset`` (parameters stay separate)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


@dataclass(frozen=True)
class RankQuery:
    """What stage one's hybrid-score search needs: the profile, the weights, the clock.

    A weight is 0 for a signal the rank vectors do not carry (a custom expression).
    """

    profile: Any  # None for users without one
    collaborative_profile: Any  # None without collaborative vectors
    similarity: float
    collaborative: float
    freshness: float
    popularity: float
    now: datetime

    @property
    def searches(self) -> bool:
        """Whether any signal the rank vectors carry has weight here."""
        return any((self.similarity, self.freshness, self.popularity))


def candidate_ids_sql(
    spec: FeedSpec,
    items: QuerySet[Any],
    *,
    rank: RankQuery,
    freshness_order: Any,
    pools: CandidatePools,
) -> tuple[str, tuple[Any, ...]]:
    """One SQL ``UNION`` of the candidate pools that apply, and its parameters."""
    parts: list[tuple[str, tuple[Any, ...]]] = []
    # The caller's filters, compiled once for every pool that joins against them.
    keys = compiled(items.order_by().values("pk"))
    if _rank_pool(rank, pools):
        parts.append(_rank_candidates(spec, keys, rank, pools.similarity))
    if _factor_pool(rank, pools):
        parts.append(
            _factor_candidates(spec, keys, rank.collaborative_profile, pools.collaborative)
        )
    if freshness_order is not None and pools.freshness:
        parts.append(compiled(items.order_by(freshness_order).values("pk")[: pools.freshness]))
    if pools.popularity:
        popular = render_sql(
            "feed/popular_candidates", items=keys[0], key_type=spec.content_key_type
        )
        parts.append((popular, (*keys[1], spec.feed_id, pools.popularity)))
    if not parts:
        # Nothing ranks: fall back to the caller's own order, bounded.
        return compiled(items.values("pk")[: pools.freshness or 100])
    sql = " UNION ".join(f"({part})" for part, _ in parts)
    return sql, tuple(param for _, params in parts for param in params)


def searches_index(rank: RankQuery, pools: CandidatePools) -> bool:
    """Whether stage one scans an HNSW index (and needs its search settings)."""
    return _rank_pool(rank, pools) or _factor_pool(rank, pools)


def _rank_pool(rank: RankQuery, pools: CandidatePools) -> bool:
    return bool(pools.similarity and rank.searches)


def _factor_pool(rank: RankQuery, pools: CandidatePools) -> bool:
    return bool(
        pools.collaborative and rank.collaborative and rank.collaborative_profile is not None
    )


def _rank_candidates(
    spec: FeedSpec, keys: tuple[str, tuple[Any, ...]], rank: RankQuery, limit: int
) -> tuple[str, tuple[Any, ...]]:
    # Zeros without a profile: the text part then adds nothing to the score.
    if rank.profile is None or not rank.similarity:
        profile = [0.0] * spec.dimension
    else:
        profile = [float(x) * rank.similarity for x in rank.profile]
    params = (profile, rank.freshness, rank.now, rank.popularity, limit)
    return _index_pool("feed/rank_candidates", spec, keys, rank_dimension(spec), params)


def _factor_candidates(
    spec: FeedSpec, keys: tuple[str, tuple[Any, ...]], profile: Any, limit: int
) -> tuple[str, tuple[Any, ...]]:
    params = ([float(x) for x in profile], limit)
    return _index_pool("feed/factor_candidates", spec, keys, spec.collaborative_dimension, params)


def _index_pool(
    template: str,
    spec: FeedSpec,
    keys: tuple[str, tuple[Any, ...]],
    dimension: int,
    params: tuple[Any, ...],
) -> tuple[str, tuple[Any, ...]]:
    """A pool searched through one of the feed's partial HNSW indexes."""
    items_sql, items_params = keys
    sql = render_sql(
        template,
        items=items_sql,
        key_type=spec.content_key_type,
        # A literal, not a parameter: the planner must see it to pick the feed's
        # partial index (feed ids are validated to [a-z0-9_]).
        feed_literal=quote_literal(spec.feed_id),
        dimension=str(dimension),
    )
    return sql, (*items_params, *params)
