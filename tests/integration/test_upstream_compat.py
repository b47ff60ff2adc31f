"""What a django-neural-feed 1.x project relies on keeps working, against the real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case, Count, FloatField, Value, When
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("upstream_weights")]


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def movies(db: None) -> dict[str, Movie]:
    now = timezone.now()
    movies = {
        "space": Movie(title="space ships", published_at=now - timedelta(days=30)),
        "love": Movie(title="love in paris", published_at=now),
        "old": Movie(title="archive", published_at=now - timedelta(days=300)),
    }
    for movie in movies.values():
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create(movies.values())
    FeedItemStat.objects.create(
        feed_id="movies", item_key=str(movies["old"].pk), interactions=9, updated_at=now
    )
    return movies


def with_profile(text: str, feed_id: str = "movies", name: str = "reader") -> User:
    user = User.objects.create(username=name)
    UserFeedProfile.objects.create(user=user, feed_id=feed_id, embedding=vector(text))
    return user


class ConstantFreshnessFeed(MovieFeed):
    """1.x's documented default: ``freshness_expression = Value(1.0)``."""

    freshness_expression = Value(1.0)


class ConstantSignalsFeed(MovieFeed):
    """Both signals constant, as a 1.x feed relying on its defaults for both had them."""

    freshness_expression = Value(1.0)
    popularity_expression = Value(0.5, output_field=FloatField())


@pytest.mark.parametrize("feed", [ConstantFreshnessFeed, ConstantSignalsFeed])
@pytest.mark.parametrize("signed_in", [True, False])
def test_constant_signals_rank_through_the_real_query(
    movies: dict[str, Movie], feed: type[MovieFeed], signed_in: bool
) -> None:
    user = with_profile("space ships") if signed_in else AnonymousUser()
    ranked = list(feed.get_feed(user, limit=3))
    assert {m.pk for m in ranked} == {m.pk for m in movies.values()}
    assert {m.freshness for m in ranked} == {1.0}
    if feed is ConstantSignalsFeed:
        assert {m.popularity for m in ranked} == {0.5}
    if signed_in:
        assert ranked[0] == movies["space"]  # similarity decides
    for item in ranked:
        expected = 0.6 * item.similarity + 0.2 * item.freshness + 0.2 * item.popularity
        assert item.score == pytest.approx(expected)
    page = feed.get_page(user, limit=2)
    assert [m.pk for m in page.items] == [m.pk for m in ranked[:2]]
    assert page.next_cursor is not None
    rest = feed.get_page(user, cursor=page.next_cursor, limit=2)
    assert [m.pk for m in rest.items] == [ranked[2].pk] and rest.next_cursor is None
    explained = feed.explain(user, ranked[2].pk)
    assert explained.signals["freshness"] == 1.0
    assert explained.score == pytest.approx(ranked[2].score)


def test_a_constant_beside_a_live_expression(movies: dict[str, Movie]) -> None:
    # Only one signal constant: the other still orders the feed.
    class LiveFeed(MovieFeed):
        freshness_expression = Value(1.0)
        popularity_expression = Count("likes", output_field=FloatField())

    for liker in range(2):
        User.objects.create(username=f"liker{liker}").liked_movies.add(movies["love"])
    ranked = list(LiveFeed.get_feed(AnonymousUser(), limit=3))
    assert ranked[0] == movies["love"] and ranked[0].popularity == 2.0


def test_profiles_can_be_made_through_the_orm_and_read_as_upstream_printed_them(
    db: None,
) -> None:
    user = User.objects.create(username="ada")
    before = timezone.now()
    profile = UserFeedProfile.objects.create(user=user, feed_id="movies", embedding=vector("x"))
    profile.refresh_from_db()
    assert before <= profile.updated_at <= timezone.now()
    assert str(profile) == "ada - movies"


class ChildFeed(MovieFeed):
    feed_id = "movies_child"
    parent_feed = MovieFeed


class OtherModelChildFeed(MovieFeed):
    feed_id = "movies_other"
    parent_feed = MovieFeed
    embedding_model_name = "hashing-384"


def test_get_user_vector_reads_the_profile_in_one_query(
    db: None, django_assert_num_queries: Any
) -> None:
    assert MovieFeed.get_user_vector(None) is None
    assert MovieFeed.get_user_vector(AnonymousUser()) is None
    nobody = User.objects.create(username="nobody")
    with django_assert_num_queries(1):
        assert MovieFeed.get_user_vector(nobody) is None
    user = with_profile("space ships")
    with django_assert_num_queries(1):
        got = MovieFeed.get_user_vector(user)
    assert isinstance(got, list) and all(type(x) is float for x in got)
    assert got == pytest.approx(vector("space ships"), abs=1e-6)
    # A child feed falls back to its parent's profile, as its feed query does, in
    # one query still; a parent embedding with another model is not comparable.
    with django_assert_num_queries(1):
        assert ChildFeed.get_user_vector(user) == got
    assert OtherModelChildFeed.get_user_vector(user) is None
    UserFeedProfile.objects.create(user=user, feed_id="movies_child", embedding=vector("love"))
    assert ChildFeed.get_user_vector(user) == pytest.approx(vector("love"), abs=1e-6)
    assert MovieFeed.get_user_vector(user) == got


def test_a_null_custom_signal_counts_as_zero(movies: dict[str, Movie]) -> None:
    # NULL for one item (a nullable column, a missing related row): upstream read it
    # as 0. Left NULL, the score would be NULL, which ORDER BY score DESC puts first.
    class NullableFeed(MovieFeed):
        freshness_expression = Case(
            When(title="archive", then=Value(None)), default=Value(1.0), output_field=FloatField()
        )
        popularity_expression = Case(
            When(title="archive", then=Value(None)),
            default=Count("likes", output_field=FloatField()),
            output_field=FloatField(),
        )

    ranked = list(NullableFeed.get_feed(AnonymousUser(), limit=3))
    assert ranked[-1] == movies["old"]
    assert (ranked[-1].freshness, ranked[-1].popularity, ranked[-1].score) == (0.0, 0.0, 0.0)
    assert all(type(m.popularity) is float for m in ranked)
    assert NullableFeed.explain(AnonymousUser(), movies["old"].pk).score == 0.0
