"""The feed query: a lazy QuerySet scored by similarity, freshness and popularity in SQL."""

from __future__ import annotations

from typing import Any

from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from pgvector.django import CosineDistance

from dnf_django.expressions import ExponentialDecay, Saturation
from dnf_django.models import FeedItemStat, UserFeedProfile


def profile_vector(feed_id: str, user: Any) -> Any:
    """The user's stored profile in this feed, or None (anonymous, or no likes yet)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        UserFeedProfile.objects.filter(user_id=user.pk, feed_id=feed_id)
        .values_list("embedding", flat=True)
        .first()
    )


def rank_feed(
    feed: Any,
    user: Any,
    *,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
    limit: int,
) -> QuerySet[Any]:
    """Annotate and order the candidate items of ``feed`` for ``user``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    spec = feed.get_spec()
    model = feed.get_setting("content_django_model")
    items = queryset if queryset is not None else model._default_manager.all()
    if excluded_ids is not None:
        items = items.exclude(pk__in=excluded_ids)
    if excluded_queryset is not None:
        items = items.exclude(pk__in=excluded_queryset.values("pk"))

    profile = profile_vector(spec.feed_id, user)
    similarity: Any = Value(0.0, output_field=FloatField())
    if profile is not None:
        similarity = Coalesce(
            1.0 - CosineDistance("embedding", profile), Value(0.0), output_field=FloatField()
        )

    freshness: Any = feed.get_setting("freshness_expression")
    if freshness is None:
        freshness = (
            ExponentialDecay(
                feed.get_setting("freshness_field"),
                now=timezone.now(),
                half_life_hours=feed.get_setting("freshness_half_life_hours"),
            )
            if spec.freshness_column
            else Value(0.0, output_field=FloatField())
        )

    popularity: Any = feed.get_setting("popularity_expression")
    if popularity is None:
        interactions = FeedItemStat.objects.filter(
            feed_id=spec.feed_id, item_key=Cast(OuterRef("pk"), TextField())
        ).values("interactions")[:1]
        popularity = Saturation(
            Coalesce(Subquery(interactions), Value(0)),
            half_saturation=feed.get_setting("popularity_half_saturation"),
        )

    weights = spec.weights
    ranked: QuerySet[Any] = (
        items.annotate(similarity=similarity, freshness=freshness, popularity=popularity)
        .annotate(
            score=weights.similarity * F("similarity")
            + weights.freshness * F("freshness")
            + weights.popularity * F("popularity")
        )
        .order_by("-score", "pk")[:limit]
    )
    return ranked
