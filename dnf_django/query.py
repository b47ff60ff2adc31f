"""The feed query: candidates from indexes, then the hybrid score over candidates only.

``score = w_s·similarity + w_f·freshness + w_p·popularity``, computed in SQL and
returned as a lazy QuerySet annotated with each component. Queries per evaluated
feed: one for the profile (signed-in users only), one that applies the HNSW search
settings, and the feed query itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import add
from typing import Any

from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from pgvector.django import CosineDistance, MaxInnerProduct

from dnf_core.spec import FeedSpec
from dnf_django.candidates import CandidatePools, RankQuery, candidate_ids_sql, searches_index
from dnf_django.conf import feed_setting
from dnf_django.expressions import ExponentialDecay, LogScaled
from dnf_django.models import FeedItemStat, ItemFactor, UserFeedProfile
from dnf_django.queryset import feed_queryset_class

# With ``diversity`` set, the feed re-ranks this many times ``limit`` of its best items.
DIVERSITY_POOL = 4
# The field NeuralRecommendMixin adds.
EMBEDDING_FIELD = "embedding"

# The ranking signals; ``score`` weighs them with ``weight_<name>``.
SIGNALS = ("similarity", "collaborative", "freshness", "popularity")


@dataclass(frozen=True)
class Profile:
    """A user's taste: the mean of their recent liked items' embeddings, and of their
    collaborative vectors (None until the feed has learned those)."""

    embedding: Any
    collaborative: Any = None


def profile_vector(
    feed: Any, spec: FeedSpec, user: Any, using: str | None = None
) -> Profile | None:
    """The user's profile in ``feed``, else in its nearest ``parent_feed`` that has one.

    As upstream: a user new to a child feed starts from the parent's profile, but only
    when both embed with the same model, so the vectors are comparable; collaborative
    vectors are learned per feed, so an inherited profile has none. None for
    anonymous users and users with no likes anywhere in the chain. One query, on
    database ``using`` (default: the router's choice).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    chain = _profile_chain(feed, spec)
    rows = {
        feed_id: (embedding, collaborative)
        for feed_id, embedding, collaborative in UserFeedProfile.objects.using(using)
        .filter(user_id=user.pk, feed_id__in=chain)
        .values_list("feed_id", "embedding", "collaborative")
    }
    for feed_id in chain:
        if feed_id in rows:
            embedding, collaborative = rows[feed_id]
            own = feed_id == spec.feed_id and spec.collaborative_dimension
            return Profile(embedding, collaborative if own else None)
    return None


def _profile_chain(feed: Any, spec: FeedSpec) -> list[str]:
    chain = [spec.feed_id]
    parent = feed.parent_feed
    while parent is not None and len(chain) < 16:  # a cycle is a declaration error
        parent_spec = parent.get_spec()
        if parent_spec.embedding_identity != spec.embedding_identity:
            break
        chain.append(parent_spec.feed_id)
        parent = parent.parent_feed
    return chain


def rank_feed(
    feed: Any,
    user: Any,
    *,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
    limit: int,
    now: datetime | None = None,
) -> QuerySet[Any]:
    """Candidates of ``feed`` for ``user``, scored and ordered by score then key."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    spec = feed.get_spec()
    model = feed.get_setting("content_django_model")
    items = queryset if queryset is not None else model._default_manager.all()
    if excluded_ids is not None:
        items = items.exclude(pk__in=excluded_ids)
    if excluded_queryset is not None:
        items = items.exclude(pk__in=excluded_queryset.values("pk"))

    # The profile comes from the database the caller's queryset reads.
    profile = profile_vector(feed, spec, user, using=items.db)
    now = now or timezone.now()
    _, freshest_first = _freshness(feed, now)
    rank, pools = _rank_query(feed, profile, now), _pools()
    ids_sql, params = candidate_ids_sql(
        spec, items, rank=rank, freshness_order=freshest_first, pools=pools
    )
    candidates = items.filter(pk__in=RawSQL(ids_sql, params))
    diversity = feed.get_setting("diversity")
    if diversity is None and not candidates.query.values_select:
        # A page of 20 vectors is ~80 kB of text to ship and parse for nothing: the
        # score is computed in SQL. Reading .embedding still works (one query).
        candidates = candidates.defer(EMBEDDING_FIELD)
    fetched = limit if diversity is None else limit * DIVERSITY_POOL
    ranked: QuerySet[Any] = scored(candidates, feed, spec, profile, now).order_by("-score", "pk")[
        :fetched
    ]
    ranked.__class__ = feed_queryset_class(type(ranked))
    if diversity is not None:
        ranked.dnf_diversity = (float(diversity), limit, EMBEDDING_FIELD)  # type: ignore[attr-defined]
    if searches_index(rank, pools):
        ranked.dnf_search = (  # type: ignore[attr-defined]
            feed_setting("HNSW_ITERATIVE_SCAN"),
            feed_setting("HNSW_EF_SEARCH"),
        )
    return ranked


def scored(
    items: QuerySet[Any], feed: Any, spec: FeedSpec, profile: Any, now: datetime
) -> QuerySet[Any]:
    """``items`` annotated with each of :data:`SIGNALS` and ``score``."""
    similarity: Any = Value(0.0, output_field=FloatField())
    if profile is not None:
        similarity = Coalesce(
            1.0 - CosineDistance(spec.embedding_column, profile.embedding),
            Value(0.0),
            output_field=FloatField(),
        )
    freshness, _ = _freshness(feed, now)
    weighted = [feed.get_setting(f"weight_{name}") * F(name) for name in SIGNALS]
    signals = items.annotate(
        similarity=similarity,
        collaborative=_collaborative(spec, profile),
        freshness=freshness,
        popularity=_popularity(feed, spec),
    )
    ranked: QuerySet[Any] = signals.annotate(score=reduce(add, weighted))
    return ranked


def _collaborative(spec: FeedSpec, profile: Profile | None) -> Any:
    """Inner product of the item's collaborative vector with the user's (0 without)."""
    if profile is None or profile.collaborative is None:
        return Value(0.0, output_field=FloatField())
    factor = ItemFactor.objects.filter(
        feed_id=spec.feed_id, item_key=Cast(OuterRef("pk"), TextField())
    ).annotate(product=-MaxInnerProduct("factor", profile.collaborative))
    return Coalesce(Subquery(factor.values("product")[:1]), Value(0.0), output_field=FloatField())


def _rank_query(feed: Any, profile: Profile | None, now: datetime) -> RankQuery:
    """Stage one's search; custom signals weigh 0 there, as do similarity without a
    profile (the search then ranks by freshness and popularity together) and the
    collaborative signal without collaborative vectors."""
    built_in_freshness = (
        feed.get_setting("freshness_expression") is None
        and feed.get_setting("freshness_field") is not None
    )
    built_in_popularity = feed.get_setting("popularity_expression") is None
    collaborative = profile.collaborative if profile is not None else None
    return RankQuery(
        profile=profile.embedding if profile is not None else None,
        collaborative_profile=collaborative,
        similarity=float(feed.get_setting("weight_similarity")) if profile is not None else 0.0,
        collaborative=(
            float(feed.get_setting("weight_collaborative")) if collaborative is not None else 0.0
        ),
        freshness=float(feed.get_setting("weight_freshness")) if built_in_freshness else 0.0,
        popularity=float(feed.get_setting("weight_popularity")) if built_in_popularity else 0.0,
        now=now,
    )


def _pools() -> CandidatePools:
    return CandidatePools(
        similarity=feed_setting("CANDIDATES_SIMILARITY"),
        freshness=feed_setting("CANDIDATES_FRESHNESS"),
        popularity=feed_setting("CANDIDATES_POPULARITY"),
        collaborative=feed_setting("CANDIDATES_COLLABORATIVE"),
    )


def _freshness(feed: Any, now: datetime) -> tuple[Any, Any]:
    """The freshness expression and the ordering that puts the freshest first."""
    custom = feed.get_setting("freshness_expression")
    if custom is not None:
        return custom, custom.desc(nulls_last=True)
    field = feed.get_setting("freshness_field")
    if field is None:
        return Value(0.0, output_field=FloatField()), None
    decay = ExponentialDecay(
        field, now=now, half_life_hours=feed.get_setting("freshness_half_life_hours")
    )
    # A plain index on a NOT NULL column, read backwards, gives DESC NULLS FIRST; asking
    # for NULLS LAST there would make Postgres sort the whole table on every request.
    nullable = feed.get_setting("content_django_model")._meta.get_field(field).null
    return decay, F(field).desc(nulls_last=True) if nullable else F(field).desc()


def _popularity(feed: Any, spec: Any) -> Any:
    custom = feed.get_setting("popularity_expression")
    if custom is not None:
        return custom
    stats = FeedItemStat.objects.filter(feed_id=spec.feed_id)
    count = stats.filter(item_key=Cast(OuterRef("pk"), TextField())).values("interactions")[:1]
    # ORDER BY ... LIMIT 1 reads one entry of the (feed_id, -interactions) index, where
    # max() with a GROUP BY would scan every count of the feed on every request.
    maximum = stats.order_by("-interactions").values("interactions")[:1]
    return LogScaled(Coalesce(Subquery(count), Value(0)), Subquery(maximum))
