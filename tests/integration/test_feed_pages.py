"""get_page's cursor chains and explain(), against the real database."""

from __future__ import annotations

import math
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_core.errors import InvalidCursor
from dnf_django.models import FeedItemStat, UserFeedProfile

WORDS = ["space", "ship", "alien", "love", "war", "paris", "robot", "ocean"]


pytestmark = [pytest.mark.services, pytest.mark.usefixtures("upstream_weights")]


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def movies(db: None) -> list[Movie]:
    now = timezone.now()
    movies = [
        Movie(
            title=f"{WORDS[i % 8]} {WORDS[(i * 3 + 1) % 8]} {i}",
            published_at=now - timedelta(hours=7 * i),
        )
        for i in range(45)
    ]
    for movie in movies:
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create(movies)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id="movies", item_key=str(m.pk), interactions=i, updated_at=now)
        for i, m in enumerate(movies[::3], start=1)
    )
    return movies


def with_profile(text: str, name: str = "reader") -> User:
    user = User.objects.create(username=name)
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=vector(text), updated_at=timezone.now()
    )
    return user


def test_a_chain_of_pages_shows_each_item_once_and_then_ends(movies: list[Movie]) -> None:
    user = with_profile("space ship")
    shown: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = MovieFeed.get_page(user, cursor=cursor, limit=10)
        shown += [m.pk for m in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        assert isinstance(cursor, str)
    assert pages == 5 and len(page.items) == 5
    assert sorted(shown) == sorted(m.pk for m in movies)
    # The first page is the feed itself.
    first = MovieFeed.get_page(user, limit=10).items
    assert [m.pk for m in first] == [m.pk for m in MovieFeed.get_feed(user, limit=10)]


def test_likes_and_new_items_between_pages_repeat_nothing_and_keep_the_clock(
    movies: list[Movie],
) -> None:
    user = with_profile("space ship")
    start = timezone.now()
    with mock.patch("dnf_django.pages.timezone.now", return_value=start):
        page = MovieFeed.get_page(user, limit=10)
    shown = [m.pk for m in page.items]
    # Meanwhile: the profile turns to another topic, new items arrive, counts change.
    UserFeedProfile.objects.filter(user=user).update(embedding=vector("love paris"))
    fresh = Movie.objects.create(title="love paris new", published_at=start + timedelta(days=9))
    Movie.objects.filter(pk=fresh.pk).update(embedding=vector(fresh.title))
    FeedItemStat.objects.filter(item_key=str(shown[0])).update(interactions=1000)
    while page.next_cursor is not None:
        # A later wall clock (within CURSOR_MAX_AGE): freshness must still be measured
        # at ``start``.
        with mock.patch("dnf_django.pages.timezone.now", return_value=start + timedelta(hours=20)):
            page = MovieFeed.get_page(user, cursor=page.next_cursor, limit=10)
        for movie in page.items:
            age_h = max((start - movie.published_at).total_seconds(), 0) / 3600
            assert movie.freshness == pytest.approx(math.exp(-math.log(2) * age_h / 72))
        shown += [m.pk for m in page.items]
    assert len(shown) == len(set(shown)) == len(movies) + 1
    assert fresh.pk in shown


def test_filters_apply_to_every_page(movies: list[Movie]) -> None:
    user = with_profile("ocean")
    spacey = Movie.objects.filter(title__startswith="space")
    page = MovieFeed.get_page(user, limit=3, queryset=spacey, excluded_ids=[movies[0].pk])
    shown = [m.pk for m in page.items]
    while page.next_cursor:
        page = MovieFeed.get_page(
            user, cursor=page.next_cursor, limit=3, queryset=spacey, excluded_ids=[movies[0].pk]
        )
        shown += [m.pk for m in page.items]
    assert sorted(shown) == sorted(m.pk for m in spacey.exclude(pk=movies[0].pk))


def test_a_cursor_is_bound_to_its_user_and_cannot_be_forged(movies: list[Movie]) -> None:
    alice, bob = with_profile("space", "alice"), with_profile("love", "bob")
    cursor = MovieFeed.get_page(alice, limit=5).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor, match="another feed or user"):
        MovieFeed.get_page(bob, cursor=cursor)
    with pytest.raises(InvalidCursor, match="another feed or user"):
        MovieFeed.get_page(AnonymousUser(), cursor=cursor)
    forged = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    with pytest.raises(InvalidCursor, match="tampered"):
        MovieFeed.get_page(alice, cursor=forged)
    with pytest.raises(InvalidCursor, match="string"):
        MovieFeed.get_page(alice, cursor=12)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        MovieFeed.get_page(alice, limit=0)


def test_anonymous_users_page_too_and_chains_are_capped(movies: list[Movie]) -> None:
    with override_settings(DJANGO_NEURAL_FEED={"PAGE_MAX_ITEMS": 20}):
        page = MovieFeed.get_page(AnonymousUser(), limit=10)
        assert page.next_cursor is not None
        page = MovieFeed.get_page(AnonymousUser(), cursor=page.next_cursor, limit=10)
        assert len(page.items) == 10 and page.next_cursor is None


def test_explain_takes_the_score_apart(movies: list[Movie]) -> None:
    user = with_profile("space ship")
    now = timezone.now()
    feed = list(MovieFeed.get_feed(user, limit=5, now=now))
    top = MovieFeed.explain(user, feed[0])
    assert top.item_key == feed[0].pk and top.has_profile
    assert top.signals == {
        "similarity": feed[0].similarity,
        "collaborative": feed[0].collaborative,
        "freshness": feed[0].freshness,
        "popularity": feed[0].popularity,
    }
    assert top.weights == {
        "similarity": 0.6,
        "collaborative": 0.0,
        "freshness": 0.2,
        "popularity": 0.2,
    }
    assert sum(top.contributions.values()) == pytest.approx(top.score)
    assert top.score == pytest.approx(feed[0].score)
    assert f"score {feed[0].score:.3f}" in str(top)
    # By key, scored afresh with the feed's own expressions: the same figures.
    by_key = MovieFeed.explain(user, feed[3].pk, now=now)
    assert by_key.score == pytest.approx(feed[3].score)
    assert by_key.signals["similarity"] == pytest.approx(feed[3].similarity)
    # Anonymous: no profile, no similarity.
    anonymous = MovieFeed.explain(AnonymousUser(), feed[3].pk, now=now)
    assert not anonymous.has_profile and anonymous.signals["similarity"] == 0.0
    assert "no profile" in str(anonymous)
    with pytest.raises(Movie.DoesNotExist):
        MovieFeed.explain(user, -1)


def test_a_child_feed_starts_from_its_parents_profile(movies: list[Movie]) -> None:
    class ChildFeed(MovieFeed):
        feed_id = "movies_child"
        parent_feed = MovieFeed

    class OtherModelFeed(MovieFeed):
        feed_id = "movies_other"
        parent_feed = MovieFeed
        embedding_model_name = "hashing-384"

    user = with_profile("space ship")
    parents = [m.pk for m in MovieFeed.get_feed(user, limit=5)]
    # Popularity is counted per feed (the child has no counts yet); similarity is shared.
    child = {m.pk: m.similarity for m in ChildFeed.get_feed(user, limit=5)}
    parent = {m.pk: m.similarity for m in MovieFeed.get_feed(user, limit=45)}
    assert child and all(child[pk] == pytest.approx(parent[pk]) for pk in child)
    assert max(child.values()) > 0.3 and ChildFeed.explain(user, parents[0]).has_profile
    # Vectors of another model are not comparable: no fallback.
    assert not OtherModelFeed.explain(user, parents[0]).has_profile
    # The child's own profile, once it has one, wins.
    UserFeedProfile.objects.create(
        user=user, feed_id="movies_child", embedding=vector("love paris"), updated_at=timezone.now()
    )
    own = ChildFeed.explain(user, parents[0]).signals["similarity"]
    assert own != pytest.approx(MovieFeed.explain(user, parents[0]).signals["similarity"])
