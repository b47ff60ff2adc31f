"""Property: after any sequence of writes, once the pipeline is idle, every embedding,
profile and count equals a recomputation from scratch (real triggers, relay, workers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest
import redis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile
from tests.conftest import wait_until
from workers.backlog import measure_backlog

pytestmark = pytest.mark.services

TEXTS = st.sampled_from(
    ["space ship", "alien war", "love story", "wedding bells", "", "  ", "space love"]
)
SLOT = st.integers(min_value=0, max_value=11)
USER = st.integers(min_value=0, max_value=2)
LIKE = st.tuples(st.just("like"), USER, st.lists(SLOT, min_size=1, max_size=4))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.lists(TEXTS, min_size=1, max_size=6)),
        st.tuples(st.just("edit"), SLOT, TEXTS),
        st.tuples(st.just("delete"), SLOT),
        LIKE,
        LIKE,  # likes are what profiles are made of: draw them more often
        LIKE,
        st.tuples(st.just("unlike"), USER, SLOT),
        st.tuples(st.just("clear"), USER),
    ),
    min_size=3,
    max_size=15,
)


def apply(operation: tuple[Any, ...], users: list[User]) -> None:
    movies = list(Movie.objects.order_by("pk"))
    pick = (lambda slot: movies[slot % len(movies)]) if movies else None
    match operation:
        case ("create", texts):
            Movie.objects.bulk_create([Movie(title=t) for t in texts])
        case ("edit", slot, text) if pick:
            Movie.objects.filter(pk=pick(slot).pk).update(title=text)
        case ("delete", slot) if pick:
            pick(slot).delete()
        case ("like", user, slots) if pick:
            users[user].liked_movies.add(*[pick(s) for s in slots])
        case ("unlike", user, slot) if pick:
            users[user].liked_movies.remove(pick(slot))
        case ("clear", user):
            users[user].liked_movies.clear()


def check_against_recomputation(users: list[User]) -> None:
    window = MovieFeed.get_spec().window
    vectors: dict[int, np.ndarray] = {}
    for movie in Movie.objects.all():
        text = f"{movie.title} {movie.genres} {movie.tags}"
        if text.strip():
            expected = HashingEncoder.encode_batch([text], "hashing-384")[0]
            np.testing.assert_allclose(movie.embedding, expected, atol=1e-6)
            vectors[movie.pk] = np.asarray(movie.embedding, dtype=np.float64)
        else:
            assert movie.embedding is None
    likes = Movie.likes.through.objects.order_by("-id")
    for user in users:
        recent = [
            vectors[like.movie_id] for like in likes.filter(user=user) if like.movie_id in vectors
        ]
        profile = UserFeedProfile.objects.filter(user=user, feed_id="movies").first()
        if not recent:
            assert profile is None
            continue
        mean = np.mean(recent[:window], axis=0)
        assert profile is not None
        np.testing.assert_allclose(profile.embedding, mean / np.linalg.norm(mean), atol=1e-5)
    counts = dict(
        FeedItemStat.objects.filter(feed_id="movies").values_list("item_key", "interactions")
    )
    for movie in Movie.objects.all():
        assert counts.get(str(movie.pk), 0) == likes.filter(movie=movie).count()


def test_profiles_match_a_recomputation_after_any_writes(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    clean_pipeline: str,
    redis_url: str,
) -> None:
    start_worker(threads=4)
    users = [User.objects.create(username=f"user{i}") for i in range(3)]
    broker = redis.Redis.from_url(redis_url)
    with psycopg.connect(clean_pipeline, autocommit=True) as conn:

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(operations=OPERATIONS)
        def run(operations: list[tuple[Any, ...]]) -> None:
            for operation in operations:
                apply(operation, users)
            wait_until(lambda: measure_backlog(conn, broker).idle, timeout=60, what="idle pipeline")
            check_against_recomputation(users)

        run()
    broker.close()
