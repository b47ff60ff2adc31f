"""The documentation's unmarked samples, run against the real database.

They are view and shell snippets written for the README's ``blog`` app; here its names
are bound to the example project's movie model and feed, over movies, counts, rank
vectors and a profile written as the workers would write them. See
``tests/docsamples.py`` for the other markers, which ``tests/unit/test_docs.py`` runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.test import RequestFactory
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile
from dnf_django.pages import FeedPage
from tests.docsamples import Sample, samples
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
    exec(compile(sample.code, sample.id, "exec"), namespace)
    # Whatever feeds the sample kept must hold items: a sample that ranks nothing
    # would pass while showing readers an empty feed.
    feeds = [
        value
        for name, value in namespace.items()
        if name not in given and isinstance(value, QuerySet | FeedPage)
    ]
    assert feeds, f"{sample.id} keeps no feed or page; nothing checks what it ranked"
    for value in feeds:
        assert list(value.items if isinstance(value, FeedPage) else value), sample.id
