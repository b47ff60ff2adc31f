"""get_feed against the real database, with profiles and counts written directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile

pytestmark = pytest.mark.services


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def catalog(db: None) -> dict[str, Movie]:
    now = timezone.now()
    movies = {
        "space": Movie(title="space", published_at=now - timedelta(days=30)),
        "space2": Movie(title="space ships", published_at=now - timedelta(days=30)),
        "love": Movie(title="love", published_at=now),
        "old": Movie(title="old", published_at=now - timedelta(days=300)),
    }
    for name, movie in movies.items():
        movie.embedding = vector(movie.title if name != "old" else "archive")
    Movie.objects.bulk_create(movies.values())
    FeedItemStat.objects.create(
        feed_id="movies", item_key=str(movies["old"].pk), interactions=50, updated_at=now
    )
    return movies


def with_profile(text: str) -> User:
    user = User.objects.create(username=f"user-{text}")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector(text), updated_at=timezone.now()
    )
    return user


def test_items_rank_by_similarity_to_the_profile(catalog: dict[str, Movie]) -> None:
    user = with_profile("space ships")
    feed = list(MovieFeed.get_feed(user, limit=4))
    assert feed[0] == catalog["space2"]
    assert feed[1] == catalog["space"]
    top = feed[0]
    assert top.similarity == pytest.approx(1.0, abs=1e-5)
    expected = 0.6 * top.similarity + 0.2 * top.freshness + 0.2 * top.popularity
    assert top.score == pytest.approx(expected)
    assert all(0.0 <= m.freshness <= 1.0 and 0.0 <= m.popularity <= 1.0 for m in feed)


def test_users_without_profile_get_freshness_and_popularity(catalog: dict[str, Movie]) -> None:
    for user in (AnonymousUser(), User.objects.create(username="new")):
        feed = list(MovieFeed.get_feed(user, limit=4))
        assert {m.similarity for m in feed} == {0.0}
        assert feed[0] == catalog["love"]  # brand new
        old = next(m for m in feed if m == catalog["old"])
        assert old.popularity == pytest.approx(50 / 60)


def test_filters_and_exclusions_are_honoured(catalog: dict[str, Movie]) -> None:
    user = with_profile("space ships")
    feed = MovieFeed.get_feed(
        user,
        queryset=Movie.objects.exclude(title="love"),
        excluded_ids=[catalog["space2"].pk],
        excluded_queryset=Movie.objects.filter(title="old"),
    )
    assert list(feed) == [catalog["space"]]


def test_feed_is_lazy_and_costs_two_queries(catalog: dict[str, Movie]) -> None:
    user = with_profile("love")
    with CaptureQueriesContext(connection) as queries:
        feed = MovieFeed.get_feed(user)
        assert len(queries) == 1  # the profile lookup
        assert len(list(feed)) == 4
    assert len(queries) == 2


def test_bad_limit_is_refused(catalog: dict[str, Movie]) -> None:
    with pytest.raises(ValueError, match="limit"):
        MovieFeed.get_feed(None, limit=0)
