"""dnf_backfill: rows written before the feed existed reach vectors, profiles and counts."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.backfill import Progress, backfill
from dnf_django.models import Backfill, FeedItemStat, UserFeedProfile
from tests.conftest import wait_until

pytestmark = pytest.mark.services

TABLES = ("catalog_movie", "catalog_movie_likes")


@pytest.fixture
def old_data(hashing_encoder: None) -> Iterator[tuple[list[User], list[Movie]]]:
    """Movies and likes written with the feed's triggers off, as before installing it."""
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        users = [User.objects.create(username=f"old{i}") for i in range(3)]
        movies = Movie.objects.bulk_create(Movie(title=f"film {i} topic{i % 4}") for i in range(23))
        for n, user in enumerate(users):
            user.liked_movies.add(*movies[n : n + 6])
    finally:
        with connection.cursor() as cur:
            for table in TABLES:
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cur.execute("SELECT count(*) FROM dnf_outbox")
            assert cur.fetchone() == (0,)
    yield users, movies


def test_backfill_builds_embeddings_profiles_and_counts(
    old_data: tuple[list[User], list[Movie]], start_worker: Callable[..., object]
) -> None:
    users, movies = old_data
    start_worker()
    out = io.StringIO()
    call_command("dnf_backfill", "--feed", "movies", "--batch", "5", stdout=out)
    assert "movies items: 23 scanned, 23 queued" in out.getvalue()
    assert "movies interactions: 18 scanned, 18 queued" in out.getvalue()
    wait_until(
        lambda: not Movie.objects.filter(embedding__isnull=True).exists(), what="all embedded"
    )
    wait_until(
        lambda: UserFeedProfile.objects.filter(feed_id="movies").count() == 3, what="profiles"
    )
    wait_until(
        lambda: FeedItemStat.objects.filter(feed_id="movies", interactions__gt=0).count() == 8,
        what="counts of the 8 liked movies",
    )
    for n, user in enumerate(users):
        liked = np.asarray([Movie.objects.get(pk=m.pk).embedding for m in movies[n : n + 6]])
        mean = liked.mean(axis=0)

        def exact(user: User = user, mean: np.ndarray = mean) -> bool:
            profile = UserFeedProfile.objects.get(user=user, feed_id="movies").embedding
            return bool(np.allclose(profile, mean / np.linalg.norm(mean), atol=1e-5))

        wait_until(exact, what=f"profile of {user.username}")
    assert FeedItemStat.objects.get(feed_id="movies", item_key=str(movies[5].pk)).interactions == 3

    # Finished: a second run has nothing left; a restart finds every item up to date.
    out = io.StringIO()
    call_command("dnf_backfill", stdout=out)
    assert "movies items: 23 scanned, 23 queued" in out.getvalue()  # the recorded totals
    out = io.StringIO()
    call_command("dnf_backfill", "--feed", "movies", "--restart", stdout=out)
    assert "movies items: 23 scanned, 0 queued" in out.getvalue()


def test_an_interrupted_backfill_resumes_where_it_stopped(
    old_data: tuple[list[User], list[Movie]],
) -> None:
    class Interrupted(Exception):
        pass

    def stop_after_two_batches(progress: Progress) -> None:
        if progress.scanned == 10:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfill(MovieFeed, batch=5, report=stop_after_two_batches)
    state = Backfill.objects.get(feed_id="movies", phase="items")
    assert (state.scanned, state.finished_at) == (10, None)
    assert state.last_key == str(sorted(m.pk for m in old_data[1])[9])

    seen: list[Progress] = []
    finals = backfill(MovieFeed, batch=5, report=seen.append)
    assert [(f.phase, f.scanned, f.total, f.done) for f in finals] == [
        ("items", 23, 23, True),
        ("interactions", 18, 18, True),
    ]
    assert seen[0].scanned == 15  # resumed after the first ten, none scanned twice
    with connection.cursor() as cur:
        cur.execute("SELECT sum(cardinality(item_keys)) FROM dnf_outbox WHERE kind = 'item'")
        assert cur.fetchone() == (23,)  # every item queued exactly once


def test_bad_arguments_are_refused(db: None) -> None:
    with pytest.raises(CommandError, match="unknown feed"):
        call_command("dnf_backfill", "--feed", "nope")
    with pytest.raises(ValueError, match="batch"):
        backfill(MovieFeed, batch=0)
