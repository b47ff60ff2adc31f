"""The documentation's unmarked samples, run against the real database.

They are view and shell snippets written for the README's ``blog`` app; here its names
are bound to the example project's movie model and feed, over movies, counts, rank
vectors and a profile written as the workers would write them. See
``tests/docsamples.py`` for the other markers, which ``tests/unit/test_docs.py`` runs.
"""

from __future__ import annotations

import inspect
import os
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.db.utils import ConnectionHandler
from django.test import RequestFactory
from django.utils import timezone
from psycopg.conninfo import conninfo_to_dict

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile
from dnf_django.pages import FeedPage
from tests.docsamples import Sample, database_settings, samples
from workers.actors.rank import write_ranks

pytestmark = pytest.mark.services

TOPICS = ("space ships", "love story", "haunted house")


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def namespace(db: None) -> dict[str, Any]:
    """What a view snippet may use, over a catalogue the feed can rank."""
    now = timezone.now()
    movies = [
        Movie(
            title=f"{TOPICS[n % 3]} {n}",
            embedding=vector(f"{TOPICS[n % 3]} {n}"),
            published_at=now - timedelta(hours=7 * n),
        )
        for n in range(30)
    ]
    Movie.objects.bulk_create(movies)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id="movies", item_key=str(m.pk), interactions=n, updated_at=now)
        for n, m in enumerate(movies[::2])
    )
    # The workers' own SQL, in the test's transaction.
    write_ranks(connection.connection, MovieFeed.get_spec(), [str(m.pk) for m in movies])
    user = User.objects.create(username="reader")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector("space ships"), updated_at=now
    )
    request = RequestFactory().get("/feed")
    request.user = user

    async def auser() -> User:
        return user

    # What AuthenticationMiddleware gives async views.
    request.auser = auser  # type: ignore[attr-defined]
    return {
        "Article": Movie,
        "ArticleFeed": MovieFeed,
        "request": request,
        "user": user,
        "seen_ids": [movies[0].pk],
    }


@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in samples() if s.kind == "run"])
def test_sample_runs(sample: Sample, namespace: dict[str, Any]) -> None:
    given = set(namespace)
    code = sample.compiled()
    if code.co_flags & inspect.CO_COROUTINE:
        # It awaits: run it in an event loop, as an async view runs. async_to_sync runs
        # the loop in a thread of its own and sends the ORM's work back to this thread,
        # whose connection holds the test's data.
        async def snippet() -> None:
            await eval(code, namespace)

        async_to_sync(snippet)()
    else:
        exec(code, namespace)
    # Whatever feeds the sample kept must hold items: a sample that ranks nothing
    # would pass while showing readers an empty feed.
    feeds = [
        items
        for name, value in namespace.items()
        if name not in given and (items := kept_items(value)) is not None
    ]
    assert feeds, f"{sample.id} keeps no feed or page; nothing checks what it ranked"
    for items in feeds:
        assert list(items), sample.id


def kept_items(value: Any) -> Any:
    """The items of a feed, a page, or a paginated DRF response; else None."""
    if isinstance(value, FeedPage):
        return value.items
    if isinstance(value, QuerySet):
        return value
    # A DRF Response of dnf_django.rest's pagination (duck-typed: DRF stays optional).
    data = getattr(value, "data", None)
    if isinstance(data, dict) and "results" in data and "next" in data:
        return data["results"]
    return None


def test_the_quickstart_settings_connect_over_the_embedded_servers_socket(
    django_db_blocker: Any,
) -> None:
    # The URL `python -m dnf_core.services start` printed for this test run.
    url = os.environ["DNF_DATABASE_URL"]
    if not str(conninfo_to_dict(url).get("host", "")).startswith("/"):
        pytest.skip("the tests run against a server reached over TCP, not the embedded one")
    sample = database_settings()
    namespace: dict[str, Any] = {}
    exec(compile(sample.code, sample.id, "exec"), namespace)
    # A connection of its own, built by Django from nothing but the sample's DATABASES.
    connections = ConnectionHandler(namespace["DATABASES"])
    with django_db_blocker.unblock():
        try:
            with connections["default"].cursor() as cur:
                # inet_server_addr() is NULL exactly when the connection is a Unix socket.
                cur.execute("SELECT 1, inet_server_addr()")
                assert cur.fetchone() == (1, None)
        finally:
            connections.close_all()
