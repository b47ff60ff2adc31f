"""Backfill: rows written before the feed existed reach vectors, profiles and counts,
by the workers on their own at start, or by ``manage.py dnf_backfill``."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.models import Movie
from dnf_django.models import Backfill, FeedItemStat, UserFeedProfile
from dnf_django.registry import installed_specs
from tests.conftest import wait_until
from workers.backfill import Progress, backfill
from workers.database import connect

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


def wait_for_everything(users: list[User], movies: list[Movie]) -> None:
    """Every movie embedded, every profile exact, every count right."""
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


def test_workers_backfill_by_themselves_when_they_start(
    old_data: tuple[list[User], list[Movie]], start_worker: Callable[..., object]
) -> None:
    start_worker()
    wait_for_everything(*old_data)
    wait_until(
        lambda: Backfill.objects.filter(feed_id="movies", finished_at__isnull=False).count() == 2,
        what="both phases recorded as finished",
    )
    # Every item is up to date now: walking again queues none of them.
    out = io.StringIO()
    call_command("dnf_backfill", "--feed", "movies", "--restart", stdout=out)
    assert "movies items: 23 scanned, 0 queued" in out.getvalue()


def test_the_command_backfills_when_workers_do_not(
    old_data: tuple[list[User], list[Movie]], start_worker: Callable[..., object]
) -> None:
    start_worker(backfill=False)
    out = io.StringIO()
    call_command("dnf_backfill", "--feed", "movies", "--batch", "5", stdout=out)
    assert "movies items: 23 scanned, 23 queued" in out.getvalue()
    assert "movies interactions: 18 scanned, 18 queued" in out.getvalue()
    wait_for_everything(*old_data)
    # Finished: a second run has nothing left to walk and reports the recorded totals.
    out = io.StringIO()
    call_command("dnf_backfill", stdout=out)
    assert "movies items: 23 scanned, 23 queued" in out.getvalue()


def test_an_interrupted_backfill_resumes_where_it_stopped(
    old_data: tuple[list[User], list[Movie]], clean_pipeline: str
) -> None:
    class Interrupted(Exception):
        pass

    def stop_after_two_batches(progress: Progress) -> None:
        if progress.scanned == 10:
            raise Interrupted

    spec = installed_specs()["movies"]
    conn = connect(clean_pipeline, autocommit=True)
    with pytest.raises(Interrupted):
        backfill(conn, spec, batch=5, report=stop_after_two_batches)
    state = Backfill.objects.get(feed_id="movies", phase="items")
    assert (state.scanned, state.finished_at) == (10, None)
    assert state.last_key == str(sorted(m.pk for m in old_data[1])[9])

    seen: list[Progress] = []
    finals = backfill(conn, spec, batch=5, report=seen.append)
    conn.close()
    assert [(f.phase, f.scanned, f.total, f.done) for f in finals] == [
        ("items", 23, 23, True),
        ("interactions", 18, 18, True),
    ]
    assert seen[0].scanned == 15  # resumed after the first ten, none scanned twice
    with connection.cursor() as cur:
        cur.execute("SELECT sum(cardinality(item_keys)) FROM dnf_outbox WHERE kind = 'item'")
        assert cur.fetchone() == (23,)  # every item queued exactly once


def test_bad_arguments_are_refused(clean_pipeline: str) -> None:
    with pytest.raises(CommandError, match="unknown feed"):
        call_command("dnf_backfill", "--feed", "nope")
    with pytest.raises(CommandError, match="batch must be a positive integer"):
        call_command("dnf_backfill", "--feed", "movies", "--batch", "0")
