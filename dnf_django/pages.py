"""Infinite scroll: pages of a feed chained by opaque, signed cursors.

A cursor carries the clock of the chain's first page and the keys already shown.
Every page ranks with that clock and excludes those keys, so no item appears twice
in one chain even when the user likes items (the profile moves) or new items arrive
between loads; the ranking itself stays live. The cursor is signed with
``SECRET_KEY``: a client can hold it, not forge it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.db.models import QuerySet
from django.utils import timezone

from dnf_core.errors import InvalidCursor
from dnf_django.conf import feed_setting

SALT = "dnf_django.pages.cursor"


@dataclass(frozen=True)
class FeedPage:
    """One page: its ``items`` (a list) and the cursor of the next (``None`` at the end)."""

    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a chain of pages stands: its clock and the keys it has shown."""

    feed_id: str
    user_key: str | None
    now: datetime
    seen: tuple[Any, ...] = ()

    def dumps(self) -> str:
        payload = {
            "f": self.feed_id,
            "u": self.user_key,
            "t": self.now.timestamp(),
            "s": list(self.seen),
        }
        return signing.dumps(payload, salt=SALT, compress=True)

    @classmethod
    def loads(cls, token: Any, feed_id: str, user_key: str | None) -> Cursor:
        if not isinstance(token, str):
            raise InvalidCursor(f"a cursor is a string, got {type(token).__name__}")
        try:
            payload = signing.loads(token, salt=SALT)
            cursor = cls(
                payload["f"],
                payload["u"],
                datetime.fromtimestamp(payload["t"], tz=UTC),
                tuple(payload["s"]),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise InvalidCursor("the cursor is invalid or was tampered with") from exc
        if (cursor.feed_id, cursor.user_key) != (feed_id, user_key):
            raise InvalidCursor("the cursor belongs to another feed or user")
        return cursor


def feed_page(
    feed: Any,
    user: Any,
    *,
    cursor: str | None,
    limit: int,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
) -> FeedPage:
    """The page of ``feed`` after ``cursor`` (the first page when it is ``None``)."""
    user_key = _user_key(user)
    feed_id = feed.get_spec().feed_id
    if cursor is None:
        position = Cursor(feed_id, user_key, timezone.now())
    else:
        position = Cursor.loads(cursor, feed_id, user_key)
    model = feed.get_setting("content_django_model")
    items = queryset if queryset is not None else model._default_manager.all()
    if position.seen:
        items = items.exclude(pk__in=position.seen)
    page = list(
        feed.get_feed(
            user,
            queryset=items,
            excluded_ids=excluded_ids,
            limit=limit,
            excluded_queryset=excluded_queryset,
            now=position.now,
        )
    )
    seen = position.seen + tuple(_json_key(item.pk) for item in page)
    if len(page) < limit or len(seen) >= feed_setting("PAGE_MAX_ITEMS"):
        return FeedPage(page, None)
    return FeedPage(page, Cursor(feed_id, user_key, position.now, seen).dumps())


def _user_key(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _json_key(pk: Any) -> Any:
    # Integer keys stay numbers (compact); UUIDs and other keys travel as strings,
    # which Django converts back when filtering.
    return pk if isinstance(pk, int) else str(pk)
