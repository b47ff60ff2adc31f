"""Why an item ranks where it does: each signal, its weight and its share of the score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from dnf_core.spec import FeedSpec
from dnf_django.arguments import missing_item
from dnf_django.query import SIGNALS, profiles_of, scored, user_profile


@dataclass(frozen=True)
class Explanation:
    """The score of one item for one user, taken apart.

    ``signals`` are similarity, freshness and popularity, each in [0, 1];
    ``contributions`` are those times their feed weights, and sum to ``score``.
    ``has_profile`` is False for anonymous users and users with no likes yet, whose
    similarity is 0 by definition.

    ``similar_to`` is set for an object that came from ``similar()``: the key of the
    item it is like. Its signals were measured against that item's vectors, which
    stand for the profile (``has_profile`` is then True, whatever the user).
    """

    item_key: Any
    has_profile: bool
    signals: dict[str, float]
    weights: dict[str, float]
    contributions: dict[str, float]
    score: float
    similar_to: Any = None

    def __str__(self) -> str:
        parts = ", ".join(
            f"{name} {self.signals[name]:.3f} x {self.weights[name]:g} = "
            f"{self.contributions[name]:.3f}"
            for name in SIGNALS
        )
        profile = "" if self.has_profile else " (no profile: similarity not used)"
        if self.similar_to is not None:
            profile = f" (like item {self.similar_to})"
        return f"item {self.item_key}: score {self.score:.3f} = {parts}{profile}"


def explain(feed: Any, user: Any, item: Any, now: datetime | None = None) -> Explanation:
    """Explain ``item`` (an object or a key) in ``user``'s feed.

    An object that came from ``get_feed``, ``get_page`` or ``similar`` carries its
    signals, which are used as they are; anything else is scored in one query with
    the feed's own expressions, at ``now`` (default: the current time). One more
    query reads whether the user has a profile (none for an object of ``similar``,
    whose signals are to an item, not to the user).
    """
    spec = feed.get_spec()
    key, signals, query = _signals(feed, spec, user, item, now)
    if query is not None:
        signals = _row_signals(feed, key, query.first())
    similar_to = _similar_to(item)
    if similar_to is not None:
        return _explanation(feed, key, signals, True, similar_to)
    profiles = profiles_of(feed, spec, user)
    return _explanation(feed, key, signals, profiles is not None and profiles.exists())


async def aexplain(feed: Any, user: Any, item: Any, now: datetime | None = None) -> Explanation:
    """:func:`explain` for async code, with the ORM's own async methods (``afirst``,
    ``aexists``): the same queries, nothing run through ``sync_to_async`` here."""
    spec = feed.get_spec()
    key, signals, query = _signals(feed, spec, user, item, now)
    if query is not None:
        signals = _row_signals(feed, key, await query.afirst())
    similar_to = _similar_to(item)
    if similar_to is not None:
        return _explanation(feed, key, signals, True, similar_to)
    profiles = profiles_of(feed, spec, user)
    return _explanation(feed, key, signals, profiles is not None and await profiles.aexists())


def _signals(
    feed: Any, spec: FeedSpec, user: Any, item: Any, now: datetime | None
) -> tuple[Any, dict[str, float], QuerySet[Any] | None]:
    """``item``'s key and, when it carries them, its signals; else the lazy query that
    scores it (one row of ``SIGNALS``)."""
    if isinstance(item, models.Model) and all(hasattr(item, name) for name in SIGNALS):
        return item.pk, {name: float(getattr(item, name)) for name in SIGNALS}, None
    key = item.pk if isinstance(item, models.Model) else item
    profile = user_profile(feed, spec, user)
    model = feed.get_setting("content_django_model")
    one = model._default_manager.filter(pk=key)
    query = scored(one, feed, spec, profile, now or timezone.now()).values(*SIGNALS)
    return key, {}, query


def _row_signals(feed: Any, key: Any, row: dict[str, Any] | None) -> dict[str, float]:
    if row is None:
        model = feed.get_setting("content_django_model")
        raise missing_item(model, key)
    return {name: float(row[name]) for name in SIGNALS}


def _similar_to(item: Any) -> Any:
    """The key of the item ``item`` is like, when it came from ``similar()`` with its
    signals; else None."""
    if isinstance(item, models.Model) and all(hasattr(item, name) for name in SIGNALS):
        return getattr(item, "dnf_similar_to", None)
    return None


def _explanation(
    feed: Any, key: Any, signals: dict[str, float], profiled: bool, similar_to: Any = None
) -> Explanation:
    weights = {name: float(feed.get_setting(f"weight_{name}")) for name in SIGNALS}
    contributions = {name: weights[name] * signals[name] for name in SIGNALS}
    return Explanation(
        item_key=key,
        has_profile=profiled,
        signals=signals,
        weights=weights,
        contributions=contributions,
        score=sum(contributions.values()),
        similar_to=similar_to,
    )
