"""Stage one of the feed query: candidate ids, from indexes only.

The union of the items with the best text, freshness and popularity score (one
inner-product HNSW search over the feed's rank vectors), the most co-liked (the
collaborative vectors' own HNSW index, users with a collaborative profile), the
freshest (an index on the freshness field) and the most popular (the maintained
counts), each within the caller's filters. Stage two scores only these exactly, so a
request never scans the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, F, QuerySet

from dnf_core.ddl import rank_dimension
from dnf_core.identifiers import quote_literal
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql
from dnf_django.expressions import SqlTemplate


@dataclass(frozen=True)
class CandidatePools:
    """How many candidates each source contributes before re-ranking.

    ``similarity`` is the rank-vector search, which ranks by text, freshness and
    popularity at once; ``collaborative`` searches the collaborative vectors. The
    freshest and most popular pools are what custom expressions, which rank vectors
    cannot carry, rely on, and what users without a profile rank best from: a search
    led by two coordinates of the rank vectors follows the HNSW graph poorly. For a
    user with a profile they shrink to ``*_with_profile``.

    ``covering`` is what the pools must bring together at least, when that many items
    pass the filters: the freshest pool (else a pool of the newest keys) takes at
    least that many, which no index search can promise (items without a rank vector,
    a scan that gives up).
    """

    similarity: int = 100
    freshness: int = 100
    popularity: int = 100
    collaborative: int = 100
    freshness_with_profile: int = 100
    popularity_with_profile: int = 100
    covering: int = 0
    # The best freshness + popularity pool (GiST) when there is a profile, which
    # otherwise skips it: 0, or its size then (Feed.similar's item vectors).
    cold_with_profile: int = 0


def compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """SQL and parameters Django would send for ``queryset`` (parameters stay separate)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


@dataclass(frozen=True)
class RankQuery:
    """What stage one's index searches need: the profile, the weights, the clock and
    pgvector's search settings.

    The profiles are subqueries (see :class:`dnf_django.query.Profile`), None where
    they do not apply. A weight is 0 for a signal the rank vectors do not carry (a
    custom expression).
    """

    profile: tuple[str, tuple[Any, ...]] | None
    collaborative_profile: tuple[str, tuple[Any, ...]] | None
    similarity: float
    collaborative: float
    freshness: float
    popularity: float
    now: datetime
    iterative_scan: str
    ef_search: int
    ef_search_collaborative: int

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
    excluded: str | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """One SQL ``UNION`` of the candidate pools that apply, and its parameters.

    ``excluded`` is an array literal of keys no pool may bring (``excluded_ids``):
    every pool leaves them out, so the union needs no filter of its own.
    """
    parts: list[tuple[str, tuple[Any, ...]]] = []
    # The caller's filters, compiled once for every pool that joins against them.
    keys = compiled(items.order_by().values("pk"))
    # The index pools exclude on the table they search, the others on the caller's rows.
    without = _Exclusion(spec, excluded)
    if excluded is not None:
        items = items.filter(without.condition())
    if _rank_pool(rank, pools):
        parts.append(_rank_candidates(spec, keys, without, rank, pools.similarity, pools.covering))
    if _factor_pool(rank, pools):
        parts.append(
            _factor_candidates(spec, keys, without, rank, pools.collaborative, pools.covering)
        )
    if (freshness_order is not None and pools.freshness) or pools.covering:
        # Without a freshness order the newest keys cover instead (the key's index,
        # read backwards).
        order = freshness_order if freshness_order is not None else F("pk").desc()
        freshest_sql, freshest_params = compiled(items.order_by(order).values("pk"))
        freshest = render_sql("feed/freshest_candidates", items=freshest_sql)
        parts.append(
            _sized_pool(
                rank,
                lambda size: (freshest, (*freshest_params, size)),
                max(pools.freshness if freshness_order is not None else 0, pools.covering),
                max(
                    pools.freshness_with_profile if freshness_order is not None else 0,
                    pools.covering,
                ),
            )
        )
    if pools.popularity:
        popular = render_sql(
            "feed/popular_candidates",
            items=keys[0],
            key_type=spec.content_key_type,
            excluded=without.sql("s"),
        )
        parts.append(
            _sized_pool(
                rank,
                lambda size: (popular, (*keys[1], spec.feed_id, size)),
                pools.popularity,
                pools.popularity_with_profile,
            )
        )
    if rank.freshness or rank.popularity:
        parts.append(
            _cold_candidates(
                spec,
                keys,
                without,
                rank,
                max(pools.freshness, pools.popularity),
                pools.cold_with_profile,
            )
        )
    if not parts:
        # Nothing ranks: fall back to the caller's own order, bounded.
        parts.append(compiled(items.values("pk")[: max(pools.freshness, pools.covering) or 100]))
    sql = " UNION ".join(f"({part})" for part, _ in parts)
    params = tuple(param for _, params in parts for param in params)
    if excluded is None:
        return sql, params
    return render_sql("feed/excluding", pools=sql, key_type=spec.content_key_type), (
        excluded,
        *params,
    )


@dataclass(frozen=True)
class _Exclusion:
    """``excluded_ids`` as conditions of the pools' SQL (feed/not_excluded.sql), which
    read the keys feed/excluding.sql lists once for all of them."""

    spec: FeedSpec
    keys: str | None

    @property
    def collate(self) -> str:
        # Text keys are sorted by code point (dnf_django.query._array_literal).
        return ' COLLATE "C"' if self.spec.content_key_type in ("text", "varchar") else ""

    def sql(self, alias: str) -> str:
        """The condition on the key of the searched table ``alias``: a derived table's
        ``item_key`` as text, cast as the pools' joins cast it."""
        if self.keys is None:
            return "TRUE"
        key_type = self.spec.content_key_type
        return render_sql(
            "feed/not_excluded", key=f"{alias}.item_key::{key_type}", collate=self.collate
        )

    def condition(self) -> SqlTemplate:
        """The condition on the caller's rows, for the pools that read them directly."""
        return SqlTemplate(
            "feed/not_excluded",
            output_field=BooleanField(),
            fragments={"collate": self.collate},
            key="pk",
        )


def _sized_pool(
    rank: RankQuery,
    pool: Callable[[int], tuple[str, tuple[Any, ...]]],
    size: int,
    with_profile: int,
) -> tuple[str, tuple[Any, ...]]:
    """``pool`` of ``size`` items, or of ``with_profile`` when the user has a profile:
    one copy per size, each gated by whether the profile exists."""
    if rank.profile is None or size == with_profile:
        return pool(size)
    profile, profile_params = rank.profile
    (full, full_params), (guard, guard_params) = pool(size), pool(with_profile)
    without = render_sql("feed/pool_without_profile", pool=full, profile=profile)
    with_ = render_sql("feed/pool_with_profile", pool=guard, profile=profile)
    params = (*full_params, *profile_params, *guard_params, *profile_params)
    return f"{without} UNION ALL {with_}", params


def _rank_pool(rank: RankQuery, pools: CandidatePools) -> bool:
    return bool(pools.similarity and rank.searches)


def _factor_pool(rank: RankQuery, pools: CandidatePools) -> bool:
    return bool(
        pools.collaborative and rank.collaborative and rank.collaborative_profile is not None
    )


def _rank_candidates(
    spec: FeedSpec,
    keys: tuple[str, tuple[Any, ...]],
    without: _Exclusion,
    rank: RankQuery,
    limit: int,
    page: int,
) -> tuple[str, tuple[Any, ...]]:
    # Scores are compared, never returned, so the query vector may be scaled: with a
    # profile it is divided by |w_s|, which keeps the profile as stored but for w_s's
    # sign; without one the text part is zeros and adds nothing.
    profile, profile_params = rank.profile if rank.profile is not None else ("NULL", ())
    scale = 1.0 / abs(rank.similarity) if rank.profile is not None else 1.0
    sign = -1.0 if rank.similarity < 0 else 1.0
    sql = _index_pool_sql(
        "feed/rank_candidates",
        spec,
        keys[0],
        rank_dimension(spec),
        profile,
        profile_dimension=str(spec.dimension),
        excluded=without.sql("r"),
    )
    params = (
        *keys[1],
        sign,
        scale,
        *profile_params,
        rank.freshness,
        rank.now,
        rank.popularity,
        rank.iterative_scan,
        str(_ef_search(rank.ef_search, page)),
        limit,
    )
    return sql, params


def _cold_candidates(
    spec: FeedSpec,
    keys: tuple[str, tuple[Any, ...]],
    without: _Exclusion,
    rank: RankQuery,
    limit: int,
    with_profile: int,
) -> tuple[str, tuple[Any, ...]]:
    """The best freshness and popularity score, for a user without a profile: exact,
    from the feed's GiST index (the freshest and the most popular pools alone miss
    items that are only fairly fresh and fairly popular). Skipped when the user has
    a profile (then the rank search ranks by all signals at once) unless
    ``with_profile`` gives its size then."""
    sql = render_sql(
        "feed/cold_candidates",
        items=keys[0],
        key_type=spec.content_key_type,
        feed_literal=quote_literal(spec.feed_id),
        excluded=without.sql("r"),
    )
    params = (*keys[1], rank.freshness, rank.popularity, rank.now, limit)
    if rank.profile is None:
        return sql, params
    if with_profile:
        return _sized_pool(rank, lambda size: (sql, (*params[:-1], size)), limit, with_profile)
    profile, profile_params = rank.profile
    return (
        render_sql("feed/pool_without_profile", pool=sql, profile=profile),
        (*params, *profile_params),
    )


def _factor_candidates(
    spec: FeedSpec,
    keys: tuple[str, tuple[Any, ...]],
    without: _Exclusion,
    rank: RankQuery,
    limit: int,
    page: int,
) -> tuple[str, tuple[Any, ...]]:
    assert rank.collaborative_profile is not None
    profile, profile_params = rank.collaborative_profile
    sql = _index_pool_sql(
        "feed/factor_candidates",
        spec,
        keys[0],
        spec.collaborative_dimension,
        profile,
        excluded=without.sql("f"),
    )
    params = (
        *keys[1],
        *profile_params,
        *profile_params,
        rank.iterative_scan,
        str(_ef_search(rank.ef_search_collaborative, page)),
        limit,
    )
    return sql, params


def _ef_search(setting: int, page: int) -> int:
    """The beam of a search for a page of ``page`` items: with ``hnsw.iterative_scan``
    off a scan returns at most ``ef_search`` rows, so a page larger than the setting
    widens it, up to pgvector's largest, 1,000. Pages up to the setting keep it."""
    return max(setting, min(page, 1000))


def _index_pool_sql(
    template: str, spec: FeedSpec, items: str, dimension: int, profile: str, **extra: str
) -> str:
    """A pool searched through one of the feed's partial HNSW indexes."""
    return render_sql(
        template,
        **extra,
        items=items,
        profile=profile,
        key_type=spec.content_key_type,
        # A literal, not a parameter: the planner must see it to pick the feed's
        # partial index (feed ids are validated to [a-z0-9_]).
        feed_literal=quote_literal(spec.feed_id),
        dimension=str(dimension),
    )
