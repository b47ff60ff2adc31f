"""Why an item ranks where it does: each signal, its weight and its share of the score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from dnf_core.spec import FeedSpec
from dnf_django.query import SIGNALS, Profile, has_profile, scored, user_profile


@dataclass(frozen=True)
class Explanation:
    """The score of one item for one user, taken apart.

    ``signals`` are similarity, freshness and popularity, each in [0, 1];
    ``contributions`` are those times their feed weights, and sum to ``score``.
    ``has_profile`` is False for anonymous users and users with no likes yet, whose
    similarity is 0 by definition.
    """

    item_key: Any
    has_profile: bool
    signals: dict[str, float]
    weights: dict[str, float]
    contributions: dict[str, float]
    score: float

    def __str__(self) -> str:
        parts = ", ".join(
            f"{name} {self.signals[name]:.3f} x {self.weights[name]:g} = "
            f"{self.contributions[name]:.3f}"
            for name in SIGNALS
        )
        profile = "" if self.has_profile else " (no profile: similarity not used)"
        return f"item {self.item_key}: score {self.score:.3f} = {parts}{profile}"


def explain(feed: Any, user: Any, item: Any, now: datetime | None = None) -> Explanation:
    """Explain ``item`` (an object or a key) in ``user``'s feed.

    An object that came from ``get_feed`` or ``get_page`` carries its signals, which
    are used as they are; anything else is scored in one query with the feed's own
    expressions, at ``now`` (default: the current time). One more query reads
    whether the user has a profile.
    """
    weights = {name: float(feed.get_setting(f"weight_{name}")) for name in SIGNALS}
    spec = feed.get_spec()
    if isinstance(item, models.Model) and all(hasattr(item, name) for name in SIGNALS):
        key, signals = item.pk, {name: float(getattr(item, name)) for name in SIGNALS}
    else:
        key = item.pk if isinstance(item, models.Model) else item
        profile = user_profile(feed, spec, user)
        signals = _score_one(feed, spec, profile, key, now or timezone.now())
    contributions = {name: weights[name] * signals[name] for name in SIGNALS}
    return Explanation(
        item_key=key,
        has_profile=has_profile(feed, spec, user),
        signals=signals,
        weights=weights,
        contributions=contributions,
        score=sum(contributions.values()),
    )


def _score_one(
    feed: Any, spec: FeedSpec, profile: Profile | None, key: Any, now: datetime
) -> dict[str, float]:
    model = feed.get_setting("content_django_model")
    one = model._default_manager.filter(pk=key)
    row = scored(one, feed, spec, profile, now).values(*SIGNALS).first()
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} with key {key!r} does not exist")
    return {name: float(row[name]) for name in SIGNALS}
