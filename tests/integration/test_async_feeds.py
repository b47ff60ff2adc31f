"""The async API (aget_feed, aget_page, aexplain, aget_user_vector) against the real
database, in async views served by Django's AsyncClient.

Each test is a plain function that drives its coroutine with ``async_to_sync``: the
event loop then runs in a thread of its own and the ORM's thread-sensitive work comes
back to this thread, whose connection holds the test's transaction (an event loop on
this thread would send it to another connection, which sees none of the test data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient
from django.urls import path
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_core.errors import InvalidCursor
from dnf_django.models import FeedItemStat, UserFeedProfile

pytestmark = [
    pytest.mark.services,
    pytest.mark.usefixtures("upstream_weights"),
    # This module is the URLconf of its tests: the views below.
    pytest.mark.urls(__name__),
]

WORDS = ["space", "ship", "alien", "love", "war", "paris", "robot", "ocean"]
T = TypeVar("T")


def run(coroutine: Callable[[], Awaitable[T]]) -> T:
    return async_to_sync(coroutine)()


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


def rows(items: list[Movie]) -> list[list[Any]]:
    return [[m.pk, round(m.score, 9)] for m in items]


async def page_view(request: HttpRequest) -> JsonResponse:
    """An async view as the docs write it: the user from request.auser()."""
    user = await request.auser()
    limit = int(request.GET.get("limit", 10))
    try:
        page = await MovieFeed.aget_page(user, cursor=request.GET.get("cursor"), limit=limit)
    except InvalidCursor as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"items": rows(page.items), "next": page.next_cursor})


async def lazy_user_view(request: HttpRequest) -> JsonResponse:
    """The lazy request.user, never touched by the view itself: evaluating it here
    would raise SynchronousOnlyOperation, so aget_feed must resolve it."""
    items = await MovieFeed.aget_feed(request.user, limit=10)
    why = await MovieFeed.aexplain(request.user, items[0])
    return JsonResponse({"items": rows(items), "top_score": why.score})


urlpatterns = [path("feed/page", page_view), path("feed/lazy", lazy_user_view)]


@pytest.fixture
def movies(db: None) -> list[Movie]:
    now = timezone.now()
    movies = [
        Movie(
            title=f"{WORDS[i % 8]} {WORDS[(i * 3 + 1) % 8]} {i}",
            published_at=now - timedelta(hours=7 * i),
            embedding=vector(f"{WORDS[i % 8]} {WORDS[(i * 3 + 1) % 8]} {i}"),
        )
        for i in range(35)
    ]
    Movie.objects.bulk_create(movies)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id="movies", item_key=str(m.pk), interactions=i, updated_at=now)
        for i, m in enumerate(movies[::3], start=1)
    )
    return movies


@pytest.fixture
def reader(movies: list[Movie]) -> User:
    user = User.objects.create(username="reader")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector("space ship"), updated_at=timezone.now()
    )
    return user


def sync_chain(user: Any, limit: int) -> list[list[list[Any]]]:
    pages, cursor = [], None
    while True:
        page = MovieFeed.get_page(user, cursor=cursor, limit=limit)
        pages.append(rows(page.items))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_an_async_view_pages_through_the_feed_as_the_sync_api_does(
    movies: list[Movie], reader: User
) -> None:
    client = AsyncClient()

    async def chain() -> tuple[list[list[list[Any]]], int]:
        await client.aforce_login(reader)
        pages, cursor = [], ""
        while True:
            response = await client.get(
                "/feed/page", {"limit": 10, "cursor": cursor} if cursor else {"limit": 10}
            )
            assert response.status_code == 200, response.content
            body = response.json()
            pages.append(body["items"])
            if body["next"] is None:
                break
            cursor = body["next"]
        # Someone else's cursor is refused, as in the sync API.
        await client.alogout()
        refused = await client.get("/feed/page", {"cursor": cursor})
        return pages, refused.status_code

    pages, refused = run(chain)
    assert [len(p) for p in pages] == [10, 10, 10, 5]
    keys = [key for page in pages for key, _ in page]
    assert sorted(keys) == sorted(m.pk for m in movies)
    assert refused == 400
    # The same chain, page for page, as the sync API gives it (its clock is a few ms
    # later: the scores move in far decimals, the order does not).
    expected = sync_chain(reader, 10)
    assert [[k for k, _ in p] for p in pages] == [[k for k, _ in p] for p in expected]
    for got, want in zip(pages, expected, strict=True):
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    # The first page is the feed itself, and it is personal: the profile counts.
    first = list(MovieFeed.get_feed(reader, limit=10))
    assert [k for k, _ in pages[0]] == [m.pk for m in first]
    assert any(m.similarity > 0 for m in first)


def test_an_async_view_ranks_for_the_lazy_request_user(movies: list[Movie], reader: User) -> None:
    client = AsyncClient()

    async def fetch() -> dict[str, Any]:
        await client.aforce_login(reader)
        response = await client.get("/feed/lazy")
        assert response.status_code == 200, response.content
        body: dict[str, Any] = response.json()
        return body

    body = run(fetch)
    expected = list(MovieFeed.get_feed(reader, limit=10))
    assert [k for k, _ in body["items"]] == [m.pk for m in expected]
    assert body["top_score"] == pytest.approx(expected[0].score, abs=1e-6)


def test_anonymous_visitors_get_the_anonymous_feed_in_an_async_view(movies: list[Movie]) -> None:
    async def fetch() -> Any:
        return await AsyncClient().get("/feed/page", {"limit": 5})

    body = run(fetch).json()
    expected = MovieFeed.get_feed(None, limit=5)
    assert [k for k, _ in body["items"]] == [m.pk for m in expected]
    assert body["next"] is not None


def test_aexplain_and_aget_user_vector_agree_with_the_sync_methods(
    movies: list[Movie], reader: User
) -> None:
    now = timezone.now()
    item = movies[8]  # "space ship 8": close to the profile

    async def ask() -> tuple[Any, Any, Any, Any]:
        by_key = await MovieFeed.aexplain(reader, item.pk, now=now)
        anonymous = await MovieFeed.aexplain(None, item.pk, now=now)
        return (
            by_key,
            anonymous,
            await MovieFeed.aget_user_vector(reader),
            (await MovieFeed.aget_user_vector(None)),
        )

    by_key, anonymous, profile, no_profile = run(ask)
    assert by_key == MovieFeed.explain(reader, item.pk, now=now)
    assert by_key.has_profile and by_key.signals["similarity"] > 0
    assert anonymous == MovieFeed.explain(None, item.pk, now=now)
    assert not anonymous.has_profile
    assert profile == MovieFeed.get_user_vector(reader)
    assert profile == pytest.approx(vector("space ship"), abs=1e-6)
    assert no_profile is None

    async def missing() -> Any:
        return await MovieFeed.aexplain(reader, 10**9)

    with pytest.raises(Movie.DoesNotExist):
        run(missing)


def test_aget_feed_is_get_feed_evaluated_and_checks_its_arguments(
    movies: list[Movie], reader: User
) -> None:
    now = timezone.now()
    recent = Movie.objects.filter(published_at__gte=now - timedelta(days=3))
    arguments: dict[str, Any] = {"queryset": recent, "excluded_ids": [movies[0].pk], "now": now}

    async def ranked() -> list[Movie]:
        return await MovieFeed.aget_feed(reader, limit=7, **arguments)

    got = run(ranked)
    assert isinstance(got, list)
    assert rows(got) == rows(list(MovieFeed.get_feed(reader, limit=7, **arguments)))
    assert movies[0].pk not in {m.pk for m in got} and len(got) == 7

    async def user_id() -> Any:
        return await MovieFeed.aget_feed(reader.pk)

    with pytest.raises(TypeError, match="user must be an instance"):
        run(user_id)


def test_async_iteration_keeps_the_diversity_re_rank(
    movies: list[Movie], reader: User, settings: Any
) -> None:
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "DIVERSITY": 0.3}
    now = timezone.now()
    plain = [m.pk for m in MovieFeed.get_feed(reader, limit=8, now=now)]

    async def iterate() -> tuple[list[int], list[int], list[int]]:
        feed = MovieFeed.get_feed(reader, limit=8, now=now)
        iterated = [m.pk async for m in feed]
        chunked = [m.pk async for m in MovieFeed.get_feed(reader, limit=8, now=now).aiterator()]
        listed = [m.pk for m in await MovieFeed.aget_feed(reader, limit=8, now=now)]
        return iterated, chunked, listed

    iterated, chunked, listed = run(iterate)
    assert iterated == chunked == listed == plain
    # The re-rank did something here, so the check above can tell it from score order.
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "DIVERSITY": None}
    assert [m.pk for m in MovieFeed.get_feed(reader, limit=8, now=now)] != plain
