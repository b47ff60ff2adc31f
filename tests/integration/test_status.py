"""dnf_status: the numbers per feed, and a non-zero exit when the pipeline lags."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from catalog.models import Movie
from dnf_django.models import UserFeedProfile
from tests.conftest import wait_until

pytestmark = pytest.mark.services


def status(redis_url: str, *args: str) -> dict:
    out = io.StringIO()
    with override_settings(DJANGO_NEURAL_FEED={"REDIS_URL": redis_url}):
        call_command("dnf_status", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


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
    with pytest.raises(CommandError, match="cannot read the broker"):
        status("redis://127.0.0.1:1/0")
