"""The whole pipeline in real worker processes (relay + Dramatiq on Redis), fast encoder."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from catalog.models import Movie
from dnf_django.models import Failure, FeedItemStat, UserFeedProfile
from tests.conftest import set_feed_encoder, wait_until

pytestmark = pytest.mark.services


def all_embedded() -> bool:
    return not Movie.objects.filter(embedding__isnull=True).exists()


def test_writes_flow_through_to_vectors_profiles_and_counts(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    movies = Movie.objects.bulk_create([Movie(title=f"film {i} topic{i % 3}") for i in range(40)])
    for user in users:
        user.liked_movies.add(*movies[:5])
    wait_until(all_embedded, what="every movie embedded")
    wait_until(
        lambda: UserFeedProfile.objects.filter(feed_id="movies").count() == 3, what="3 profiles"
    )
    wait_until(
        lambda: FeedItemStat.objects.filter(interactions=3).count() == 5, what="popularity counts"
    )

    # An edit re-embeds; an unlike moves the profile; both through the same pipeline.
    Movie.objects.filter(pk=movies[0].pk).update(title="completely different words")
    users[0].liked_movies.remove(*movies[1:5])
    target = None

    def settled() -> bool:
        nonlocal target
        movie = Movie.objects.get(pk=movies[0].pk)
        profile = UserFeedProfile.objects.get(user=users[0], feed_id="movies").embedding
        vector = np.asarray(movie.embedding)
        target = vector / np.linalg.norm(vector)
        return bool(np.allclose(profile, target, atol=1e-5))

    wait_until(settled, what="profile following the edit and the unlikes")


def test_dead_lettered_messages_are_recorded_and_cleared_by_a_later_success(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    set_feed_encoder("movies", "tests.encoders.PoisonEncoder", "hashing-384")
    start_worker(max_retries=0)
    movie = Movie.objects.create(title="poison pill")
    failure = wait_until(
        lambda: Failure.objects.filter(task="embed").first(), what="failure record"
    )
    assert failure.key == str(movie.pk) and "failed on every item" in failure.error

    Movie.objects.filter(pk=movie.pk).update(title="antidote")
    wait_until(lambda: not Failure.objects.exists(), what="record cleared by the next success")
    assert Movie.objects.get(pk=movie.pk).embedding is not None


def test_retry_failed_sends_failures_through_the_pipeline_again(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    movie = Movie.objects.create(title="flaky")
    wait_until(all_embedded, what="embedded")
    # As if the encoder had rejected it: no vector, no hash, a failure on record.
    Movie.objects.filter(pk=movie.pk).update(embedding=None, embedding_hash=None)
    now = timezone.now()
    Failure.objects.create(
        feed_id="movies",
        task="embed",
        key=str(movie.pk),
        error="boom",
        first_failed_at=now,
        last_failed_at=now,
    )
    out = io.StringIO()
    call_command("dnf_retry_failed", "--feed", "movies", stdout=out)
    assert "re-enqueued 1 failure" in out.getvalue()
    assert not Failure.objects.exists()
    wait_until(all_embedded, what="re-embedded after the retry")


def test_admin_lists_failures_read_only_and_retries_them(admin_client: Client) -> None:
    now = timezone.now()
    movie = Movie.objects.create(title="x")
    failure = Failure.objects.create(
        feed_id="movies", task="embed", key=str(movie.pk), error="ValueError: boom",
        first_failed_at=now, last_failed_at=now,
    )  # fmt: skip
    page = admin_client.get("/admin/dnf_django/failure/")
    assert page.status_code == 200 and b"ValueError: boom" in page.content
    assert admin_client.get(f"/admin/dnf_django/failure/{failure.pk}/change/").status_code == 200
    assert admin_client.get("/admin/dnf_django/failure/add/").status_code == 403
    response = admin_client.post(
        "/admin/dnf_django/failure/", {"action": "retry", "_selected_action": [failure.pk]}
    )
    assert response.status_code == 302 and not Failure.objects.exists()
    with connection.cursor() as cur:
        cur.execute("SELECT item_key FROM dnf_outbox WHERE kind = 'item' ORDER BY id DESC LIMIT 1")
        assert cur.fetchone() == (str(movie.pk),)
    assert admin_client.get("/admin/dnf_django/userfeedprofile/").status_code == 200
