"""A user's feed as the admin previews it: ``get_feed``'s items with ``explain``'s parts.

Nothing here ranks or scores: the order is ``get_feed``'s and every number is
``explain``'s, so the preview shows exactly what the user gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from dnf_core.errors import InvalidArgument
from dnf_django.explanations import Explanation
from dnf_django.registry import registered_feeds

MAX_PREVIEW_ITEMS = 100
DEFAULT_PREVIEW_ITEMS = 20


@dataclass(frozen=True)
class PreviewRow:
    """One item of the previewed feed, at ``rank`` (1 = top)."""

    rank: int
    item: Any
    explanation: Explanation


@dataclass(frozen=True)
class Preview:
    """The top of one feed for one user, ranked at ``now``."""

    feed: Any
    user: Any
    now: datetime
    rows: tuple[PreviewRow, ...]


def feed_preview(feed: Any, user: Any, limit: int, now: datetime | None = None) -> Preview:
    """The top ``limit`` items of ``feed`` for ``user`` (None: an anonymous visitor).

    One ranking query, then one ``explain`` per item (it reads the user's profile;
    the signals come from the ranked objects themselves).
    """
    if not 1 <= limit <= MAX_PREVIEW_ITEMS:
        raise InvalidArgument(f"limit must be between 1 and {MAX_PREVIEW_ITEMS}, not {limit!r}")
    viewer = AnonymousUser() if user is None else user
    now = now or timezone.now()
    items = list(feed.get_feed(viewer, limit=limit, now=now))
    rows = tuple(
        PreviewRow(rank=rank, item=item, explanation=feed.explain(viewer, item, now=now))
        for rank, item in enumerate(items, start=1)
    )
    return Preview(feed=feed, user=user, now=now, rows=rows)


class FeedPreviewForm(forms.Form):
    """Which feed, which user, how many items; every bad value gets a message that says why."""

    feed = forms.ChoiceField()
    user = forms.CharField(
        required=False,
        help_text="Username or id. Empty: an anonymous visitor (freshness and popularity only).",
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PREVIEW_ITEMS,
        initial=DEFAULT_PREVIEW_ITEMS,
        help_text=f"How many items, 1 to {MAX_PREVIEW_ITEMS} (default {DEFAULT_PREVIEW_ITEMS}).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feeds = {feed.get_setting("feed_id"): feed for feed in registered_feeds()}
        field = self.fields["feed"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(feed_id, feed_id) for feed_id in sorted(self.feeds)]
        known = ", ".join(sorted(self.feeds)) or "none (DJANGO_NEURAL_FEED['FEEDS'] is empty)"
        message = f"Unknown feed “%(value)s”. The feeds are: {known}."
        field.error_messages["invalid_choice"] = message

    def clean_feed(self) -> Any:
        return self.feeds[self.cleaned_data["feed"]]

    def clean_limit(self) -> int:
        limit: int | None = self.cleaned_data["limit"]
        return DEFAULT_PREVIEW_ITEMS if limit is None else limit

    def clean_user(self) -> Any:
        text = self.cleaned_data["user"].strip()
        if not text:
            return None
        user = _find_user(text)
        if user is None:
            raise ValidationError(
                "No user with username or id “%(value)s”.",
                code="unknown_user",
                params={"value": text},
            )
        return user


def _find_user(text: str) -> Any:
    """The user whose username is ``text``, else whose primary key is, else None."""
    model = get_user_model()
    found = model._default_manager.filter(**{model.USERNAME_FIELD: text}).first()
    if found is not None:
        return found
    try:
        key = model._meta.pk.to_python(text)
    except ValidationError:
        return None  # not a valid key at all: no user has it
    return model._default_manager.filter(pk=key).first()
