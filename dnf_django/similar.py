"""``Feed.similar``: the items most like one item ("more like this").

The feed query itself, ranked against the item's own vectors instead of a user's
profile: its text vector where the profile's embedding goes, its collaborative
vector where the profile's collaborative vector goes. So an item ranks for
``similar(x)`` exactly as for a user whose one like is ``x``: the same two stages,
the same indexes (the rank-vector HNSW search, the collaborative vectors' own), the
same weights, and one lazy query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models import BooleanField, QuerySet

from dnf_core.identifiers import quote_identifier
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import render_sql
from dnf_django.expressions import SqlTemplate
from dnf_django.query import Profile, rank_feed
from dnf_django.queryset import FeedQuerySetMixin, feed_queryset_class


def similar_items(
    feed: Any,
    item: Any,
    *,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
    limit: int,
    now: datetime | None,
) -> QuerySet[Any]:
    """The items of ``queryset`` most like ``item`` (an instance or a key, checked),
    best first, ``item`` itself left out; nothing while ``item`` has no vector.

    Runs nothing: evaluating the result runs the feed query, and, only when that
    finds nothing, one lookup that raises ``ItemNotFound`` if ``item`` does not exist.
    """
    spec = feed.get_spec()
    model = feed.get_setting("content_django_model")
    key = item.pk if isinstance(item, models.Model) else item
    value = model._meta.pk.get_db_prep_value(key, connection)
    items = queryset if queryset is not None else model._default_manager.all()
    ranked = rank_feed(
        feed,
        None,
        queryset=items.exclude(pk=key),
        gate=SqlTemplate(
            "feed/similar_source",
            [value, spec.feed_id, value],
            output_field=BooleanField(),
            fragments=_fragments(spec),
        ),
        excluded_ids=excluded_ids,
        excluded_queryset=excluded_queryset,
        limit=limit,
        now=now,
        profile=item_profile(spec, value),
        spec=spec,
    )
    if not isinstance(ranked, FeedQuerySetMixin):
        ranked.__class__ = feed_queryset_class(type(ranked))
    ranked.dnf_similar_to = key  # type: ignore[attr-defined]
    return ranked


def item_profile(spec: FeedSpec, value: Any) -> Profile:
    """The vectors of the item whose key (as its column stores it) is ``value``, as the
    subqueries a user's profile is read by (see :class:`dnf_django.query.Profile`)."""
    embedding = render_sql("feed/similar_embedding", **_fragments(spec))
    collaborative = None
    if spec.collaborative_dimension:
        factor = render_sql("feed/similar_factor", key_type=spec.content_key_type)
        collaborative = (factor, (spec.feed_id, value))
    return Profile(embedding=(embedding, (value,)), collaborative=collaborative, single_item=True)


def _fragments(spec: FeedSpec) -> dict[str, str]:
    return {
        "table": quote_identifier(spec.content_table),
        "key": quote_identifier(spec.content_key),
        "embedding": quote_identifier(spec.embedding_column),
        "key_type": spec.content_key_type,
    }
