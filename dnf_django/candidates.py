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
    if pools.similarity and rank.searches:
        parts.append(_rank_candidates(spec, keys, rank, pools.similarity))
    if pools.collaborative and rank.collaborative and rank.collaborative_profile is not None:
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


def _rank_candidates(
    spec: FeedSpec, keys: tuple[str, tuple[Any, ...]], rank: RankQuery, limit: int
) -> tuple[str, tuple[Any, ...]]:
    items_sql, items_params = keys
    sql = render_sql(
        "feed/rank_candidates",
        items=items_sql,
        key_type=spec.content_key_type,
        # A literal, not a parameter: the planner must see it to pick the feed's
        # partial index (feed ids are validated to [a-z0-9_]).
        feed_literal=quote_literal(spec.feed_id),
        dimension=str(rank_dimension(spec)),
    )
    profile = _scaled(rank.profile, rank.similarity, spec.dimension)
    params = (rank.freshness, rank.now, rank.popularity)
    return sql, (*items_params, profile, *params, limit)


def _factor_candidates(
    spec: FeedSpec, keys: tuple[str, tuple[Any, ...]], profile: Any, limit: int
) -> tuple[str, tuple[Any, ...]]:
    items_sql, items_params = keys
    sql = render_sql(
        "feed/factor_candidates",
        items=items_sql,
        key_type=spec.content_key_type,
        feed_literal=quote_literal(spec.feed_id),
        dimension=str(spec.collaborative_dimension),
    )
    return sql, (*items_params, [float(x) for x in profile], limit)


def _scaled(vector: Any, weight: float, dimension: int) -> list[float]:
    # Zeros when absent: that part of the rank vectors then adds nothing to the score.
    if vector is None or not weight:
        return [0.0] * dimension
    return [float(x) * weight for x in vector]
