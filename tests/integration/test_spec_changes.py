"""A migration that changes what profiles are computed from reaches every profile."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection

from catalog.models import Movie
from dnf_core.ddl import CURRENT, change_sql
from dnf_core.spec import FeedSpec
from dnf_django.models import Backfill, UserFeedProfile
from dnf_django.registry import installed_specs
from tests.conftest import wait_until
from workers.registry import FeedRegistry

pytestmark = pytest.mark.services


def migrate(old: FeedSpec, new: FeedSpec) -> None:
    """What ``migrate`` runs for a generated migration from ``old`` to ``new``."""
    with connection.cursor() as cur:
        cur.execute(change_sql(old, CURRENT, new))


def profile_is_mean_of_latest(user: User, movies: list[Movie], window: int) -> bool:
    found = UserFeedProfile.objects.filter(user=user, feed_id="movies").first()
    if found is None or found.embedding is None:
        return False
    latest = [Movie.objects.get(pk=m.pk).embedding for m in movies[-window:]]
    if any(vector is None for vector in latest):
        return False  # an item not embedded yet
    mean = np.mean(np.asarray(latest), axis=0)
    return bool(np.allclose(found.embedding, mean / np.linalg.norm(mean), atol=1e-5))


def walked() -> bool:
    return not Backfill.objects.filter(feed_id="movies", finished_at__isnull=True).exists()


def test_a_new_window_recomputes_every_profile_without_new_likes(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    installed = installed_specs()["movies"]
    start_worker()
    users = [User.objects.create(username=f"windowed{i}") for i in range(3)]
    movies = Movie.objects.bulk_create(Movie(title=f"window {i} topic{i % 4}") for i in range(14))
    for user in users:
        for movie in movies:  # one add per like: the order the window counts in
            user.liked_movies.add(movie)
    wait_until(
        lambda: all(profile_is_mean_of_latest(u, movies, installed.window) for u in users),
        what="profiles over the installed window",
    )
    liked = {user.pk: list(movies) for user in users}
    narrower = dataclasses.replace(installed, window=installed.window // 2)
    migrate(installed, narrower)
    try:
        # No like since: only the migration can have changed them.
        wait_until(
            lambda: all(profile_is_mean_of_latest(u, movies, narrower.window) for u in users),
            what="every profile over the new window",
        )
        wait_until(walked, what="the walk recorded as finished")
        # The migration left the captures in place: a like made after it still counts.
        later = Movie.objects.create(title="window later topic1")
        users[0].liked_movies.add(later)
        liked[users[0].pk].append(later)
        wait_until(
            lambda: profile_is_mean_of_latest(users[0], liked[users[0].pk], narrower.window),
            what="a like after the migration in the profile",
        )
    finally:
        migrate(narrower, installed)
    wait_until(
        lambda: all(profile_is_mean_of_latest(u, liked[u.pk], installed.window) for u in users),
        what="every profile back over the installed window",
    )
    wait_until(walked, what="the walk recorded as finished")


def test_the_workers_registry_reads_a_changed_spec_at_once(clean_pipeline: str) -> None:
    installed = installed_specs()["movies"]
    registry = FeedRegistry()
    with psycopg.connect(clean_pipeline, autocommit=True) as conn:
        assert registry.get(conn, "movies").window == installed.window
        changed = dataclasses.replace(installed, window=installed.window + 3)
        migrate(installed, changed)
        try:
            assert registry.get(conn, "movies").window == installed.window + 3
        finally:
            migrate(changed, installed)
        assert registry.get(conn, "movies").window == installed.window
