"""Infinite scroll: pages of a feed chained by opaque, signed cursors.

A chain's first page pins its clock; every page ranks with that clock and leaves out
the keys the chain has shown, so no item appears twice in one chain even when the
user likes items (the profile moves) or new items arrive between loads; the ranking
itself stays live. The shown keys stay server-side, one
:class:`~dnf_django.models.ShownPage` row per page, written to the database
Django's router picks for writes (``default`` unless you route it): the cursor
carries only the chain, the page number, the clock and how many items were shown,
about 200 bytes however long the chain and whatever the key type. It is signed with
``SECRET_KEY``: a client can hold it, not forge it, nor read what it showed. A
replayed cursor finds its page stored and shows the same items in the same order. A
chain lives ``CURSOR_MAX_AGE`` seconds after its first page; then its cursors are
refused and its rows purged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.core import signing
from django.db import connections, router
from django.db.models import BooleanField, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from dnf_core.errors import InvalidCursor
from dnf_core.sqlfiles import load_sql
from dnf_django.conf import feed_setting
from dnf_django.expressions import SqlTemplate
from dnf_django.models import ShownPage

SALT = "dnf_django.pages.cursor"
# Clocks travel as whole microseconds since the epoch: exact, where a float timestamp
# loses microseconds far from 1970.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedPage:
    """One page: its ``items`` (a list) and the cursor of the next (``None`` at the end)."""

    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a chain of pages stands: its id, the page to show next, its clock and how
    many items it has shown. ``owner`` binds it to one feed and user: a keyed digest
    of both, so the cursor does not reveal the user's key."""

    owner: str
    chain: uuid.UUID
    page: int
    now: datetime
    shown: int

    def dumps(self) -> str:
        payload = {
            "o": self.owner,
            "c": self.chain.hex,
            "p": self.page,
            "t": (self.now - EPOCH) // timedelta(microseconds=1),
            "n": self.shown,
        }
        return signing.dumps(payload, salt=SALT, compress=True)

    @classmethod
    def loads(cls, token: Any, owner: str) -> Cursor:
        if not isinstance(token, str):
            raise InvalidCursor(f"a cursor is a string, got {type(token).__name__}")
        try:
            payload = signing.loads(token, salt=SALT)
            cursor = cls(
                str(payload["o"]),
                uuid.UUID(hex=payload["c"]),
                _count(payload["p"]),
                EPOCH + timedelta(microseconds=_count(payload["t"], signed=True)),
                _count(payload["n"]),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidCursor("the cursor is invalid or was tampered with") from exc
        if cursor.owner != owner:
            raise InvalidCursor("the cursor belongs to another feed or user")
        max_age = feed_setting("CURSOR_MAX_AGE")
        if timezone.now() - cursor.now > timedelta(seconds=max_age):
            raise InvalidCursor(
                f"the cursor expired: its chain started more than CURSOR_MAX_AGE "
                f"({max_age} s) ago; start again from the first page"
            )
        return cursor


def _count(value: Any, *, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (value < 0 and not signed):
        raise ValueError(f"not a count: {value!r}")
    return value


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
    steps = _page_steps(
        feed,
        user,
        cursor=cursor,
        limit=limit,
        queryset=queryset,
        excluded_ids=excluded_ids,
        excluded_queryset=excluded_queryset,
    )
    try:
        step = next(steps)
        while True:
            step = steps.send(step.run())
    except StopIteration as done:
        page: FeedPage = done.value
        return page


async def afeed_page(
    feed: Any,
    user: Any,
    *,
    cursor: str | None,
    limit: int,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
) -> FeedPage:
    """:func:`feed_page` for async code: the same steps, each awaited (see :class:`Rank`
    and :class:`RawSql` for which are natively async)."""
    steps = _page_steps(
        feed,
        user,
        cursor=cursor,
        limit=limit,
        queryset=queryset,
        excluded_ids=excluded_ids,
        excluded_queryset=excluded_queryset,
    )
    try:
        step = next(steps)
        while True:
            step = steps.send(await step.arun())
    except StopIteration as done:
        page: FeedPage = done.value
        return page


@dataclass(frozen=True)
class Rank:
    """A step of a page that reads the database: evaluate a feed QuerySet into a list.

    Async code iterates it with ``async for``, the ORM's own async path."""

    queryset: QuerySet[Any]

    def run(self) -> list[Any]:
        return list(self.queryset)

    async def arun(self) -> list[Any]:
        return [item async for item in self.queryset]


@dataclass(frozen=True)
class RawSql:
    """A step of a page that runs SQL on a connection of its own choosing (the chain
    store). Django has no async cursor, so async code runs it with ``sync_to_async``,
    on the thread that holds the request's connection (``thread_sensitive``)."""

    function: Callable[..., Any]
    args: tuple[Any, ...]

    def run(self) -> Any:
        return self.function(*self.args)

    async def arun(self) -> Any:
        return await sync_to_async(self.function)(*self.args)


# The page logic is written once, as a generator that yields the steps which touch the
# database and receives their results: feed_page runs them, afeed_page awaits them, so
# the sync and async APIs cannot drift apart.
PageSteps = Generator[Rank | RawSql, Any, FeedPage]


def _page_steps(
    feed: Any,
    user: Any,
    *,
    cursor: str | None,
    limit: int,
    queryset: QuerySet[Any] | None,
    excluded_ids: Any,
    excluded_queryset: QuerySet[Any] | None,
) -> PageSteps:
    from dnf_django.query import check_limit

    check_limit(limit)
    spec = feed.get_spec()
    owner = _owner(spec.feed_id, _user_key(user))
    if cursor is None:
        position = Cursor(owner, uuid.uuid4(), 0, timezone.now(), 0)
    else:
        position = Cursor.loads(cursor, owner)
    # A chain shows at most PAGE_MAX_ITEMS: its last page may be short.
    size = min(limit, feed_setting("PAGE_MAX_ITEMS") - position.shown)
    model = feed.get_setting("content_django_model")
    items = queryset if queryset is not None else model._default_manager.all()
    store = router.db_for_write(ShownPage)

    def ranked(candidates: QuerySet[Any], count: int) -> Rank:
        return Rank(
            feed.get_feed(
                user,
                queryset=candidates,
                excluded_ids=excluded_ids,
                limit=count,
                excluded_queryset=excluded_queryset,
                now=position.now,
            )
        )

    page: list[Any] = []
    if size > 0:
        shown = None
        if position.page > 0 and items.db != store:
            shown = yield RawSql(_shown_keys, (store, position))
        page = yield ranked(_not_shown(items, spec, position, shown), size)
    full = len(page) == size == limit and position.shown + size < feed_setting("PAGE_MAX_ITEMS")
    keys = [str(item.pk) for item in page]
    if position.page > 0 or full:
        # A chain is stored only once it goes on: a first page without a next one
        # needs no row.
        stored = yield RawSql(_save, (store, position, keys))
        if stored is not None:
            # A replay (or a concurrent twin): show what was shown, in that order.
            keys = stored
            replayed = yield ranked(items.filter(pk__in=keys), len(keys))
            by_key = {str(item.pk): item for item in replayed}
            page = [by_key[key] for key in keys if key in by_key]
            full = len(keys) == size == limit and position.shown + size < feed_setting(
                "PAGE_MAX_ITEMS"
            )
    if not full:
        return FeedPage(page, None)
    following = Cursor(
        owner, position.chain, position.page + 1, position.now, position.shown + len(keys)
    )
    return FeedPage(page, following.dumps())


def _not_shown(
    items: QuerySet[Any], spec: Any, position: Cursor, shown: list[Any] | None
) -> QuerySet[Any]:
    """``items`` less what the chain showed before this page: a subquery on the
    chain's stored pages inside the feed query; or, when the content is read from
    another database than the one the pages are written to (a read replica, which
    may lag), the keys ``shown`` read from there first, as one array."""
    if position.page == 0:
        return items
    fragments = {"key_type": spec.content_key_type}
    if shown is None:
        condition = SqlTemplate(
            "feed/not_shown",
            [position.chain, position.page],
            output_field=BooleanField(),
            fragments=fragments,
            key="pk",
        )
    else:
        condition = SqlTemplate(
            "feed/not_shown_keys",
            [shown],
            output_field=BooleanField(),
            fragments=fragments,
            key="pk",
        )
    return items.filter(condition)


def _shown_keys(store: str, position: Cursor) -> list[Any]:
    """The keys the chain showed before this page, read from the chain store."""
    with connections[store].cursor() as cursor:
        cursor.execute(load_sql("feed/shown_keys"), [position.chain, position.page])
        return [row[0] for row in cursor.fetchall()]


def _save(store: str, position: Cursor, keys: list[str]) -> list[str] | None:
    """Store this page of the chain; None once stored, else the keys stored before."""
    now = timezone.now()
    params: dict[str, Any] = {
        "chain": position.chain,
        "page": position.page,
        "keys": keys,
        "now": now,
        "expired_before": now - timedelta(seconds=feed_setting("CURSOR_MAX_AGE")),
    }
    with connections[store].cursor() as cursor:
        cursor.execute(load_sql("feed/shown_page_save"), params)
        if cursor.fetchone() is not None:
            return None
        cursor.execute(load_sql("feed/shown_page_read"), [position.chain, position.page])
        row = cursor.fetchone()
    # Purged in between (the chain expired meanwhile): nothing to replay.
    return list(row[0]) if row is not None else keys


def _owner(feed_id: str, user_key: str | None) -> str:
    # Keyed with SECRET_KEY: equal for one feed and user, meaningless to anyone else.
    return salted_hmac(SALT, f"{feed_id}\n{user_key}").hexdigest()[:20]


def _user_key(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)
