"""``dnf_status`` never says healthy while work is lost or failing.

Each test breaks a real pipeline (Postgres, Redis, worker processes) the way
production breaks it: messages flushed out of Redis, an encoder that keeps failing, a
backfill refused by the database, a worker whose writes the database refuses. The
status must exit 1 naming the cause and the command that fixes it, and be healthy
again once that command ran.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

from catalog.models import Movie
from dnf_core.grants import grant_sql
from dnf_django.models import Failure, FeedItemStat, UserFeedProfile
from dnf_django.registry import installed_specs
from tests.conftest import namespace_of, set_feed_encoder, wait_until
from workers.backlog import pending_messages
from workers.config import Mode
from workers.refusals import REFUSALS
from workers.spawn import stop_worker

pytestmark = [pytest.mark.faults, pytest.mark.services]

StartWorker = Callable[..., subprocess.Popen[bytes]]
ROLE = "dnf_test_status_worker"


def run_status(redis_url: str, *args: str) -> tuple[dict[str, Any], str | None]:
    """The JSON report of the full ``dnf_status``, and its error if it exited 1."""
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        try:
            call_command("dnf_status", "--json", *args, stdout=out)
        except CommandError as failure:
            return json.loads(out.getvalue()), str(failure)
    return json.loads(out.getvalue()), None


def failing(redis_url: str, *args: str) -> str | None:
    """The status's error, or None while it is healthy (for wait_until)."""
    return run_status(redis_url, *args)[1]


def healthy(redis_url: str, *args: str) -> bool:
    return run_status(redis_url, *args)[1] is None


def outbox_events() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_outbox")
        return int(cur.fetchone()[0])


def _execute(statement: str | sql.Composed) -> None:
    with connection.cursor() as cur:
        cur.execute(statement)


def _drop_role() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE])
        if cur.fetchone():
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(ROLE)))
            cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(ROLE)))


@pytest.fixture
def worker_url(hashing_encoder: None, database_url: str) -> Iterator[str]:
    """A URL connecting as a role with exactly the relay's and the workers' grants.

    Request it before ``start_worker``, so the worker stops before the role goes.
    """
    _drop_role()  # a leftover of an interrupted run
    try:
        _execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ROLE)))
        for process in ("relay", "worker"):
            _execute(grant_sql(process, ROLE, installed_specs().values()))
        yield make_conninfo(database_url, options=f"-c role={ROLE}")
    finally:
        _drop_role()


def test_messages_lost_from_redis_fail_the_status_until_a_backfill(
    hashing_encoder: None,
    start_worker: StartWorker,
    clean_pipeline: str,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    # Items embedded and liked by a healthy pipeline first.
    worker = start_worker(backfill=False)
    reader = User.objects.create(username="reader")
    older = Movie.objects.bulk_create(Movie(title=f"older {i}") for i in range(3))
    wait_until(lambda: not Movie.objects.filter(embedding_hash=None).exists(), what="embeddings")
    stop_worker(worker)

    # Then a relay alone: new items and a like go to Redis, and nothing performs them.
    start_worker(mode=Mode.RELAY, backfill=False)
    newer = Movie.objects.bulk_create(Movie(title=f"newer {i}") for i in range(4))
    reader.liked_movies.add(older[0])
    wait_until(
        lambda: (
            outbox_events() == 0
            and pending_messages(redis_client, namespace_of(clean_pipeline)) >= 3
        ),
        what="the relay to move every event to Redis",
    )
    redis_client.flushdb()  # what FLUSHALL does to this database
    start_worker(mode=Mode.ACTORS)

    # One sighting proves nothing: the last message may just have been acknowledged.
    first, error = run_status(redis_url, "--max-lag", "1")
    assert error is None and first["healthy"]
    assert first["feeds"]["movies"]["items_never_embedded"] == len(newer)
    error = wait_until(lambda: failing(redis_url, "--max-lag", "1"), what="the loss reported")
    fix = "run `python manage.py dnf_backfill --feed movies --restart`"
    assert f"feed movies: {len(newer)} items have no embedding of their current text" in error
    assert "feed movies: 1 users with interactions on embedded items have no profile" in error
    assert error.count(fix) == 2 and "lost" in error
    # A status with a longer --max-lag has not seen them wait that long.
    assert healthy(redis_url, "--max-lag", "300")

    call_command("dnf_backfill", "--feed", "movies", "--restart", stdout=io.StringIO())
    wait_until(lambda: UserFeedProfile.objects.filter(user=reader).exists(), what="the profile")
    wait_until(lambda: not Movie.objects.filter(embedding_hash=None).exists(), what="embeddings")
    wait_until(lambda: healthy(redis_url, "--max-lag", "1"), what="a healthy status")


def test_failures_recorded_within_max_lag_fail_the_status(
    hashing_encoder: None, start_worker: StartWorker, redis_url: str
) -> None:
    set_feed_encoder("movies", "tests.encoders.PoisonEncoder", "hashing-384")
    start_worker()
    # One statement, so one batch: the encoder's failure is pinned on the poison alone
    # (a batch that fails whole is retried, not recorded).
    *good, poison = Movie.objects.bulk_create(
        [*(Movie(title=f"good {i}") for i in range(3)), Movie(title="poison")]
    )
    failure = wait_until(
        lambda: Failure.objects.filter(feed_id="movies", key=str(poison.pk)).first(),
        what="the failure recorded",
    )
    wait_until(
        lambda: all(m.embedding_hash for m in Movie.objects.filter(pk__in=[g.pk for g in good]))
    )

    report, error = run_status(redis_url)
    assert error is not None and report["feeds"]["movies"]["recent_failures"] == 1
    assert error == (
        f"feed movies: 1 failures in the last 300 s (latest: embed {poison.pk}: "
        f"{failure.error}); see dnf_failure (the admin's Failures list), fix the cause, then "
        "run `python manage.py dnf_retry_failed --feed movies`"
    )

    # Older than the window: still counted, no longer failing now. The rejected item
    # is the failure's, not reported again as lost work.
    Failure.objects.filter(pk=failure.pk).update(
        first_failed_at=failure.first_failed_at.replace(year=2000),
        last_failed_at=failure.last_failed_at.replace(year=2000),
    )
    for _ in range(2):
        report, error = run_status(redis_url, "--max-lag", "1")
        assert error is None and report["feeds"]["movies"]["failures"] == 1
        # Two sightings more than --max-lag apart, as lost work would need.
        time.sleep(1.5)

    # The cause fixed (the text the encoder rejected), the retry succeeds and clears it.
    Movie.objects.filter(pk=poison.pk).update(title="cured")
    call_command("dnf_retry_failed", "--feed", "movies", stdout=io.StringIO())
    wait_until(lambda: Movie.objects.get(pk=poison.pk).embedding_hash, what="the retry")
    wait_until(lambda: not Failure.objects.exists(), what="the failure cleared")
    assert healthy(redis_url)


def test_a_backfill_the_database_refused_fails_the_status(
    worker_url: str, start_worker: StartWorker, redis_url: str
) -> None:
    # The relay's role lost its read of the likes: the backfill stops at its first
    # statement (it counts both tables before it walks the items).
    _execute(sql.SQL("REVOKE SELECT ON catalog_movie_likes FROM {}").format(sql.Identifier(ROLE)))
    start_worker(database_url=worker_url)
    error = wait_until(lambda: failing(redis_url), what="the failed backfill reported")
    assert error == (
        "feed movies: the backfill of its items stopped: permission denied for table "
        "catalog_movie_likes; fix the cause, then run `python manage.py dnf_backfill --feed "
        "movies` (or restart a worker)"
    )

    _execute(sql.SQL("GRANT SELECT ON catalog_movie_likes TO {}").format(sql.Identifier(ROLE)))
    call_command("dnf_backfill", "--feed", "movies", stdout=io.StringIO())
    assert healthy(redis_url)


def test_writes_the_database_refuses_fail_the_status(
    worker_url: str, start_worker: StartWorker, redis_url: str, redis_client: redis.Redis
) -> None:
    # The workers' role may no longer write vectors; profiles and counts still may.
    columns = sql.SQL("UPDATE (embedding, embedding_hash) ON catalog_movie")
    _execute(sql.SQL("REVOKE {} FROM {}").format(columns, sql.Identifier(ROLE)))
    start_worker(database_url=worker_url, backfill=False)
    reader = User.objects.create(username="reader")
    movie = Movie.objects.create(title="refused")
    reader.liked_movies.add(movie)

    error = wait_until(lambda: failing(redis_url), what="the refusal reported")
    assert error.startswith("the database refused a write of the embed actor of feed movies ")
    assert "(InsufficientPrivilege: permission denied for table catalog_movie)" in error
    assert "`python manage.py dnf_grants worker ROLE`" in error
    assert "`python manage.py dnf_backfill --feed movies --restart`" in error
    # The like's profile and count succeed meanwhile, and do not hide the refusal.
    wait_until(
        lambda: FeedItemStat.objects.filter(feed_id="movies", item_key=str(movie.pk)).exists(),
        what="the like counted",
    )
    assert not redis_client.hexists(REFUSALS, "movies:popularity")
    assert failing(redis_url) is not None

    _execute(sql.SQL("GRANT {} TO {}").format(columns, sql.Identifier(ROLE)))
    # The refused message retries by itself (backoff from 1 s) and clears the record.
    wait_until(lambda: Movie.objects.get(pk=movie.pk).embedding_hash, what="the retry")
    wait_until(lambda: healthy(redis_url), what="a healthy status")
