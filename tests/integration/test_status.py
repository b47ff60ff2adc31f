"""dnf_status: the numbers per feed, and a non-zero exit when the pipeline lags."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import pytest
import redis
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from catalog.models import Movie
from dnf_django.models import FactorState, FeedItemStat, ItemFactor, UserFactor, UserFeedProfile
from dnf_django.status import OUTBOX_COUNT_CAP
from tests.conftest import namespace_of, wait_until
from workers.dispatch import EMBED_QUEUE, queue_name

pytestmark = pytest.mark.services


def status(redis_url: str, *args: str) -> dict:
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        call_command("dnf_status", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def failing_status(redis_url: str, *args: str) -> tuple[dict, str]:
    """The report a failing dnf_status printed, and the error it exited with."""
    out = io.StringIO()
    with (
        override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}),
        pytest.raises(CommandError) as failure,
    ):
        call_command("dnf_status", "--json", *args, stdout=out)
    return json.loads(out.getvalue()), str(failure.value)


def add_outbox_events(count: int, age: str) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dnf_outbox (feed_id, kind, item_keys, created_at) "
            "SELECT 'movies', 'item', ARRAY[n::text], clock_timestamp() - %s::interval "
            "FROM generate_series(1, %s) AS n",
            [age, count],
        )


def test_status_reports_a_healthy_pipeline(
    hashing_encoder: None, start_worker: Callable[..., object], redis_url: str
) -> None:
    start_worker()
    user = User.objects.create(username="reader")
    movies = Movie.objects.bulk_create(Movie(title=f"film {i}") for i in range(5))
    user.liked_movies.add(*movies[:2])
    wait_until(lambda: UserFeedProfile.objects.filter(feed_id="movies").exists(), what="profile")
    wait_until(lambda: status(redis_url)["feeds"]["movies"]["outbox_events"] == 0, what="relayed")
    report = status(redis_url)
    movies_row = report["feeds"]["movies"]
    assert report["healthy"] and report["problems"] == []
    assert (movies_row["items"], movies_row["items_never_embedded"]) == (5, 0)
    assert (movies_row["users_with_interactions"], movies_row["profiles"]) == (1, 1)
    assert movies_row["model"] == "hashing-384" and movies_row["failures"] == 0
    assert report["last_heartbeat_s"] is not None and report["last_heartbeat_s"] < 30
    assert movies_row["users_without_profile"] == 0
    probe = status(redis_url, "--lag-only")
    assert probe["healthy"] and "feeds" not in probe
    assert probe["outbox"] == {
        "events": 0,
        "oldest_event_s": None,
        "oldest_feed_id": None,
        "capped": False,
    }
    assert probe["last_heartbeat_s"] is not None and probe["last_heartbeat_s"] < 30


def test_status_shows_each_feeds_freshness(
    hashing_encoder: None, start_worker: Callable[..., object], redis_url: str
) -> None:
    start_worker()
    users = [User.objects.create(username=f"reader{i}") for i in range(2)]
    movies = Movie.objects.bulk_create(Movie(title=f"film {i}") for i in range(5))
    users[0].liked_movies.add(*movies[:2])
    users[1].liked_movies.add(movies[2])

    def measured() -> dict:
        row = status(redis_url)["feeds"]["movies"]
        return row if row["write_to_profile_s"] is not None else {}

    wait_until(lambda: len(UserFeedProfile.objects.filter(feed_id="movies")) == 2, what="profiles")
    row = wait_until(measured, what="a measured write-to-profile delay")
    # Measured from the write's capture to the profile's commit, so never negative.
    assert row["write_to_profile_s"] > 0 and row["write_to_embedding_s"] > 0
    assert row["delays_measured_s_ago"] >= 0
    # What waits for the next collaborative build, against a recomputation once idle.
    wait_until(
        lambda: (
            status(redis_url)["broker_messages"] == 0
            and status(redis_url)["feeds"]["movies"]["outbox_events"] == 0
        ),
        what="an idle pipeline",
    )
    row = status(redis_url)["feeds"]["movies"]
    built = FactorState.objects.filter(feed_id="movies", built_at__isnull=False).exists()
    assert (row["collaborative_basis_age_s"] is not None) == built
    liked = FeedItemStat.objects.filter(feed_id="movies", interactions__gt=0)
    known_items = set(
        ItemFactor.objects.filter(feed_id="movies").values_list("item_key", flat=True)
    )
    assert row["items_without_collaborative"] == len(
        [s for s in liked if s.item_key not in known_items]
    )
    known_users = set(
        UserFactor.objects.filter(feed_id="movies").values_list("user_key", flat=True)
    )
    assert row["users_without_collaborative"] == len(
        [u for u in users if str(u.pk) not in known_users]
    )
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        call_command("dnf_status", stdout=out)
    assert re.search(r"write to profile \d+ ms", out.getvalue())
    assert "waiting for it" in out.getvalue()


def test_status_fails_when_events_wait_too_long(clean_pipeline: str, redis_url: str) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO dnf_outbox (feed_id, kind, item_keys, created_at) "
            "VALUES ('movies', 'item', ARRAY['1'], clock_timestamp() - interval '10 minutes')"
        )
    with pytest.raises(CommandError, match=r"feed movies: oldest outbox event is 6\d\d s old"):
        status(redis_url)
    report = status(redis_url, "--max-lag", "3600")
    assert report["healthy"] and report["feeds"]["movies"]["outbox_events"] == 1
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        call_command("dnf_status", "--max-lag", "3600", stdout=out)
    assert "movies: 1 outbox events (oldest 6" in out.getvalue()
    assert "last worker heartbeat never" in out.getvalue()


def test_status_fails_when_the_broker_is_unreachable(clean_pipeline: str) -> None:
    for mode in ((), ("--lag-only",)):
        report, error = failing_status("redis://:hunter2@127.0.0.1:1/0", *mode)
        assert "cannot read the broker at redis://:***@127.0.0.1:1/0" in error
        assert "hunter2" not in error and "hunter2" not in json.dumps(report)
        assert report["broker_messages"] is None and report["outbox"]["events"] == 0
        # The database's numbers are still reported when the broker is down.
        assert ("movies" in report["feeds"]) if not mode else ("feeds" not in report)


def test_lag_only_reads_the_outbox_head_and_nothing_else(
    clean_pipeline: str, redis_url: str
) -> None:
    add_outbox_events(1, "10 minutes")
    with CaptureQueriesContext(connection) as queries:
        report, error = failing_status(redis_url, "--lag-only")
    assert re.fullmatch(r"feed movies: oldest outbox event is 6\d\d s old", error)
    assert 600 <= report["outbox"]["oldest_event_s"] < 660
    assert (report["outbox"]["oldest_feed_id"], report["outbox"]["events"]) == ("movies", 1)
    tables = {"catalog_movie", "catalog_movie_likes", "dnf_user_profile", "dnf_failure"}
    # The outbox head, and the namespace that names this database's queues (no table).
    head, namespace = (query["sql"] for query in queries)
    assert "dnf_outbox" in head and "pg_control_system" in namespace
    assert not any(table in sql for table in tables for sql in (head, namespace))
    assert status(redis_url, "--lag-only", "--max-lag", "3600")["healthy"]


def test_lag_only_counts_the_backlog_up_to_a_cap(clean_pipeline: str, redis_url: str) -> None:
    add_outbox_events(OUTBOX_COUNT_CAP + 5, "1 second")
    outbox = status(redis_url, "--lag-only")["outbox"]
    assert (outbox["events"], outbox["capped"]) == (OUTBOX_COUNT_CAP, True)
    assert status(redis_url)["feeds"]["movies"]["outbox_events"] == OUTBOX_COUNT_CAP + 5
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        call_command("dnf_status", "--lag-only", stdout=out)
    assert out.getvalue().startswith(f"outbox: {OUTBOX_COUNT_CAP}+ events (oldest ")


def test_lag_only_fails_when_messages_wait_without_a_worker(
    clean_pipeline: str, redis_url: str, redis_client: redis.Redis
) -> None:
    namespace = namespace_of(clean_pipeline)
    redis_client.hset(f"dramatiq:{queue_name(EMBED_QUEUE, namespace)}.msgs", "message-id", b"{}")
    # Another database's message, in the same Redis: not this pipeline's lag.
    redis_client.hset(f"dramatiq:{EMBED_QUEUE}.0ther000.msgs", "message-id", b"{}")
    report, error = failing_status(redis_url, "--lag-only")
    assert error == "1 messages pending and the last worker heartbeat was never"
    assert report["broker_messages"] == 1 and report["last_heartbeat_s"] is None


def test_max_lag_must_be_positive(clean_pipeline: str, redis_url: str) -> None:
    with pytest.raises(CommandError, match="--max-lag must be positive, not 0"):
        status(redis_url, "--lag-only", "--max-lag", "0")
