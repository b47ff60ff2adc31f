"""Stage one of the feed query: candidate ids, from indexes only.

The union of the nearest items to the profile (HNSW), the freshest (an index on
the freshness field) and the most popular (the maintained counts), each within the
caller's filters. Stage two scores only these, so a request never scans the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from pgvector.django import CosineDistance

from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql


@dataclass(frozen=True)
class CandidatePools:
    """How many candidates each signal contributes before re-ranking."""

    similarity: int = 200
    freshness: int = 100
    popularity: int = 100


def compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """SQL and parameters Django would send for ``queryset`` (parameters stay separate)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


def candidate_ids_sql(
    spec: FeedSpec,
    items: QuerySet[Any],
    *,
    profile: Any,
    freshness_order: Any,
    pools: CandidatePools,
) -> tuple[str, tuple[Any, ...]]:
    """One SQL ``UNION`` of the candidate pools that apply, and its parameters."""
    parts: list[tuple[str, tuple[Any, ...]]] = []
    if profile is not None and pools.similarity:
        nearest = items.filter(**{f"{spec.embedding_column}__isnull": False})
        nearest = nearest.order_by(CosineDistance(spec.embedding_column, profile))
        parts.append(compiled(nearest.values("pk")[: pools.similarity]))
    if freshness_order is not None and pools.freshness:
        parts.append(compiled(items.order_by(freshness_order).values("pk")[: pools.freshness]))
    if pools.popularity:
        items_sql, items_params = compiled(items.order_by().values("pk"))
        popular = render_sql(
            "feed/popular_candidates", items=items_sql, key_type=spec.content_key_type
        )
        parts.append((popular, (*items_params, spec.feed_id, pools.popularity)))
    if not parts:
        # Nothing ranks: fall back to the caller's own order, bounded.
        return compiled(items.values("pk")[: pools.freshness or 100])
    sql = " UNION ".join(f"({part})" for part, _ in parts)
    return sql, tuple(param for _, params in parts for param in params)
