"""Bulk imports: capture paused for one transaction, the rows handed to the backfill."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.errors import ConfigurationError
from dnf_django import pause_capture
from dnf_django.capture import paused, paused_feeds
from dnf_django.models import Backfill, FeedItemStat, UserFeedProfile
from dnf_django.registry import installed_specs
from tests.conftest import wait_until
from tests.feedapp.models import Article, Reaction
from workers.backfill import Progress, backfill
from workers.database import connect

pytestmark = pytest.mark.services


def outbox() -> list[tuple[str, str]]:
    """(feed, kind) of every outbox row, in order."""
    with connection.cursor() as cur:
        cur.execute("SELECT feed_id, kind FROM dnf_outbox ORDER BY id")
        return [(feed_id, kind) for feed_id, kind in cur.fetchall()]


def clear_outbox() -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_outbox")


def unfinished(feed_id: str) -> set[str]:
    return set(
        Backfill.objects.filter(feed_id=feed_id, finished_at__isnull=True).values_list(
            "phase", flat=True
        )
    )


def test_writes_inside_the_pause_reach_no_outbox_and_hand_the_feed_back(
    clean_pipeline: str,
) -> None:
    ann = User.objects.create(username="ann")
    clear_outbox()
    with psycopg.connect(clean_pipeline, autocommit=True) as listener:
        listener.execute("LISTEN dnf_backfill")
        with pause_capture(MovieFeed):
            assert paused_feeds() == ["movies"]
            movies = Movie.objects.bulk_create(Movie(title=f"import {i}") for i in range(300))
            ann.liked_movies.add(*movies[:50])
            Movie.objects.filter(pk=movies[0].pk).update(title="renamed on import")
            assert outbox() == []
            assert unfinished("movies") == set()  # handed back only when the block ends
        notes = [n.payload for n in listener.notifies(timeout=1.0, stop_after=1)]
    assert outbox() == []
    assert notes == ["movies"]
    assert unfinished("movies") == {"items", "interactions"}
    # The same session captures again at once.
    assert paused_feeds() == []
    Movie.objects.create(title="after the import")
    ann.liked_movies.add(movies[60])
    assert outbox() == [("movies", "item"), ("movies", "interaction")]


def test_deletes_are_captured_even_inside_the_pause(clean_pipeline: str) -> None:
    movie = Movie.objects.create(title="to go")
    clear_outbox()
    with paused("movies"):
        Movie.objects.filter(pk=movie.pk).delete()
    # A walk over the rows that remain could not see it go.
    assert outbox() == [("movies", "item")]


def test_a_rolled_back_pause_leaves_nothing(clean_pipeline: str) -> None:
    before = list(Backfill.objects.order_by("feed_id", "phase").values_list())

    class Failed(Exception):
        pass

    with pytest.raises(Failed), paused(MovieFeed):
        Movie.objects.bulk_create(Movie(title=f"lost {i}") for i in range(10))
        raise Failed
    assert not Movie.objects.filter(title__startswith="lost").exists()
    assert outbox() == []
    assert list(Backfill.objects.order_by("feed_id", "phase").values_list()) == before
    assert paused_feeds() == []
    Movie.objects.create(title="captured")
    assert outbox() == [("movies", "item")]


def test_a_pause_inside_a_transaction_ends_with_its_block(clean_pipeline: str) -> None:
    clear_outbox()
    with transaction.atomic():
        with paused(MovieFeed):
            Movie.objects.create(title="paused")
        Movie.objects.create(title="captured in the same transaction")
        assert outbox() == [("movies", "item")]
        # A savepoint rolled back takes its pause (and hand-back) with it.
        with pytest.raises(ZeroDivisionError), paused(MovieFeed):
            _ = 1 / 0
        assert paused_feeds() == []


def test_feeds_not_paused_still_capture(clean_pipeline: str) -> None:
    bob = User.objects.create(username="bob")
    clear_outbox()
    # reactions and saved_articles share the article table, each with its own triggers.
    with paused("reactions"):
        article = Article.objects.create(headline="shared", body="table")
        Reaction.objects.create(user=bob, article=article, value=1)
        Movie.objects.create(title="another feed")
        assert outbox() == [("saved_articles", "item"), ("movies", "item")]
        clear_outbox()
        with paused("saved_articles"):
            assert paused_feeds() == ["reactions", "saved_articles"]
            Article.objects.create(headline="both", body="paused")
            assert outbox() == []
        # The inner block's feed captures again; the outer block's is still paused.
        assert paused_feeds() == ["reactions"]
        Article.objects.create(headline="only", body="saved_articles")
        assert outbox() == [("saved_articles", "item")]
    assert unfinished("reactions") == {"items", "interactions"}
    clear_outbox()
    with paused():  # every feed
        assert paused_feeds() == ["*"]
        Article.objects.create(headline="all", body="paused")
        Movie.objects.create(title="all paused")
    assert outbox() == []
    assert {"movies", "reactions", "saved_articles"} <= set(
        Backfill.objects.filter(finished_at__isnull=True).values_list("feed_id", flat=True)
    )


def test_a_misspelt_feed_is_refused(clean_pipeline: str) -> None:
    with pytest.raises(ConfigurationError, match="'movie'"), paused("movie"):
        pass


def test_a_walk_in_progress_starts_over_when_a_feed_is_handed_back(
    clean_pipeline: str,
) -> None:
    Movie.objects.bulk_create(Movie(title=f"old {i}") for i in range(12))
    total = Movie.objects.count()
    seen: list[tuple[str, int]] = []

    def hand_back_once(progress: Progress) -> None:
        seen.append((progress.phase, progress.scanned))
        if seen == [("items", 5)]:
            with paused(MovieFeed):
                Movie.objects.create(title="imported behind the walk")

    conn = connect(clean_pipeline, autocommit=True)
    try:
        finals = backfill(conn, installed_specs()["movies"], batch=5, report=hand_back_once)
    finally:
        conn.close()
    # The batch after the hand-back could not save over it: the walk started over.
    assert seen[:2] == [("items", 5), ("items", 0)]
    assert (finals[0].scanned, finals[0].done) == (total + 1, True)
    assert unfinished("movies") == set()


def test_a_running_worker_embeds_an_import_and_builds_its_profiles(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    wait_until(lambda: unfinished("movies") == set() and Backfill.objects.exists(), what="start")
    users = User.objects.bulk_create(User(username=f"importer{i}") for i in range(3))
    with paused(MovieFeed):
        movies = Movie.objects.bulk_create(
            Movie(title=f"imported {i} topic{i % 5}") for i in range(40)
        )
        through = Movie.likes.through
        through.objects.bulk_create(
            through(user_id=user.pk, movie_id=m.pk)
            for n, user in enumerate(users)
            for m in movies[n : n + 7]
        )
        assert outbox() == []
    wait_until(
        lambda: not Movie.objects.filter(embedding__isnull=True).exists(), what="all embedded"
    )
    for n, user in enumerate(users):
        liked = np.asarray([Movie.objects.get(pk=m.pk).embedding for m in movies[n : n + 7]])
        mean = liked.mean(axis=0)

        def exact(user: User = user, mean: np.ndarray = mean) -> bool:
            found = UserFeedProfile.objects.filter(user=user, feed_id="movies").first()
            return found is not None and bool(
                np.allclose(found.embedding, mean / np.linalg.norm(mean), atol=1e-5)
            )

        wait_until(exact, what=f"profile of {user.username}")
    wait_until(
        lambda: (
            FeedItemStat.objects.filter(feed_id="movies", item_key=str(movies[6].pk))
            .filter(interactions=3)
            .exists()
        ),
        what="the count of the movie all three liked",
    )
    wait_until(lambda: unfinished("movies") == set(), what="the walk recorded as finished")
