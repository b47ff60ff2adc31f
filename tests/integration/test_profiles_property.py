"""Property: after any sequence of writes, once the pipeline is idle, every embedding,
profile and count equals a recomputation from scratch (real triggers, relay, workers),
and every collaborative vector equals its fold into the basis of the last rebuild
(rebuilds run during the writes, and likes fold in between them).

Two feeds: the catalog's likes (m2m), and reactions with likes, dislikes and neutral
rows (model mode with a value field), whose users may have dislikes alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest
import redis
from django.contrib.auth.models import User
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, ItemFactor, UserFactor, UserFeedProfile
from tests.conftest import wait_until
from tests.feedapp.feeds import ReactionFeed
from tests.feedapp.models import Article, Reaction
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


def check_factors(feed_id: str, likers: dict[int, set[str]]) -> dict[int, np.ndarray]:
    """Every item's collaborative vector is its likers' basis rows summed over
    sqrt(likers) (workers/factorization.py), none where no liker has a basis row and
    none for items that are gone; the vectors, by item key."""
    basis = {
        f.user_key: np.asarray(f.factor, dtype=np.float64)
        for f in UserFactor.objects.filter(feed_id=feed_id)
    }
    factors = {
        int(f.item_key): np.asarray(f.factor, dtype=np.float64)
        for f in ItemFactor.objects.filter(feed_id=feed_id)
    }
    expected = {}
    for item, users in likers.items():
        known = [basis[u] for u in sorted(users) if u in basis]
        if known:
            expected[item] = np.sum(known, axis=0) / np.sqrt(len(users))
    assert set(factors) == set(expected), f"basis of {sorted(basis)}, likes {likers}"
    for item, vector in expected.items():
        np.testing.assert_allclose(factors[item], vector, atol=1e-6)
    return factors


def check_against_recomputation(users: list[User]) -> None:
    # One snapshot: a collaborative rebuild may commit between two reads otherwise.
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        check_snapshot(users)


def check_snapshot(users: list[User]) -> None:
    window_size = MovieFeed.get_spec().window
    vectors: dict[int, np.ndarray] = {}
    for movie in Movie.objects.all():
        text = movie.title  # movies of this test have no genre nor tag
        if text.strip():
            expected = HashingEncoder.encode_batch([text], "hashing-384")[0]
            np.testing.assert_allclose(movie.embedding, expected, atol=1e-6)
            vectors[movie.pk] = np.asarray(movie.embedding, dtype=np.float64)
        else:
            assert movie.embedding is None
    likes = Movie.likes.through.objects.order_by("-id")
    likers: dict[int, set[str]] = {movie.pk: set() for movie in Movie.objects.all()}
    for like in likes:
        likers[like.movie_id].add(str(like.user_id))
    factors = check_factors("movies", likers)
    for user in users:
        window = [like.movie_id for like in likes.filter(user=user) if like.movie_id in vectors][
            :window_size
        ]
        recent = [vectors[movie] for movie in window]
        profile = UserFeedProfile.objects.filter(user=user, feed_id="movies").first()
        if not recent:
            assert profile is None
            continue
        mean = np.mean(recent, axis=0)
        assert profile is not None
        np.testing.assert_allclose(profile.embedding, mean / np.linalg.norm(mean), atol=1e-5)
        collaborative = [factors[movie] for movie in window if movie in factors]
        if not collaborative:
            assert profile.collaborative is None
            continue
        direction = np.mean(collaborative, axis=0)
        if np.linalg.norm(direction) > 1e-6:
            np.testing.assert_allclose(
                profile.collaborative, direction / np.linalg.norm(direction), atol=1e-5
            )
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rebuilds a second after likes, at most every 3 s: between them, likes fold into
    # the last basis, and the check meets both states.
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "1")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "3")
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


# Likes and dislikes alike, so both users with dislikes alone and collaborative
# vectors (learned from likes) turn up.
VALUE = st.sampled_from([-1, -1, 0, 1, 1])
REACT = st.tuples(st.just("react"), USER, st.lists(SLOT, min_size=1, max_size=6), VALUE)
CREATE = st.tuples(st.just("create"), st.lists(TEXTS, min_size=1, max_size=6))
# Always some articles first, so reactions have something to land on.
REACTIONS = st.builds(
    lambda first, rest: [first, *rest],
    st.tuples(st.just("create"), st.lists(TEXTS, min_size=4, max_size=8)),
    st.lists(
        st.one_of(
            CREATE,
            st.tuples(st.just("edit"), SLOT, TEXTS),
            st.tuples(st.just("delete"), SLOT),
            REACT,
            REACT,
            REACT,
            REACT,
            st.tuples(st.just("unreact"), USER, SLOT),
            st.tuples(st.just("clear"), USER),
        ),
        min_size=3,
        max_size=15,
    ),
)
# What the profile SQL calls a vanished direction: shorter than this share of the
# lengths summed into it (float4 rounding of an exact cancellation stays far below).
VANISHED = 1e-4


def react(operation: tuple[Any, ...], users: list[User]) -> None:
    articles = list(Article.objects.order_by("pk"))
    pick = (lambda slot: articles[slot % len(articles)]) if articles else None
    match operation:
        case ("create", texts):
            Article.objects.bulk_create([Article(headline=t) for t in texts])
        case ("edit", slot, text) if pick:
            Article.objects.filter(pk=pick(slot).pk).update(headline=text)
        case ("delete", slot) if pick:
            pick(slot).delete()
        case ("react", user, slots, value) if pick:
            Reaction.objects.bulk_create(
                Reaction(user=users[user], article=pick(s), value=value) for s in slots
            )
        case ("unreact", user, slot) if pick:
            Reaction.objects.filter(user=users[user], article=pick(slot)).delete()
        case ("clear", user):
            Reaction.objects.filter(user=users[user]).delete()


def signed_direction(
    window: list[tuple[np.ndarray | None, int]], dislike_weight: float
) -> np.ndarray | None:
    """sum(liked) - w * sum(disliked), normalized; None when nothing or only a vanished
    direction is left (the reference of profiles_refresh_signed.sql)."""
    present = [(v, value) for v, value in window if v is not None]
    if not present:
        return None
    weights = [1.0 if value > 0 else -dislike_weight for _, value in present]
    direction = sum(w * v for (v, _), w in zip(present, weights, strict=True))
    length = sum(abs(w) * np.linalg.norm(v) for (v, _), w in zip(present, weights, strict=True))
    norm = float(np.linalg.norm(direction))
    if norm <= VANISHED * length:
        return None
    return np.asarray(direction) / norm


def check_signed_against_recomputation(users: list[User]) -> None:
    spec = ReactionFeed.get_spec()
    # One snapshot: a collaborative rebuild may commit between two reads otherwise.
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        vectors: dict[int, np.ndarray] = {}
        for article in Article.objects.all():
            if f"{article.headline} {article.body}".strip():
                assert article.embedding is not None
                vectors[article.pk] = np.asarray(article.embedding, dtype=np.float64)
            else:
                assert article.embedding is None
        likers: dict[int, set[str]] = {article.pk: set() for article in Article.objects.all()}
        for reaction in Reaction.objects.filter(value__gt=0):
            likers[reaction.article_id].add(str(reaction.user_id))
        factors = check_factors(spec.feed_id, likers)
        reactions = Reaction.objects.order_by("-reacted_at", "-id")
        for user in users:
            window = [
                r for r in reactions.filter(user=user).exclude(value=0) if r.article_id in vectors
            ][: spec.window]
            profile = UserFeedProfile.objects.filter(user=user, feed_id=spec.feed_id).first()
            expected = signed_direction(
                [(vectors[r.article_id], r.value) for r in window], spec.dislike_weight
            )
            if expected is None:
                assert profile is None, f"{user}: {[r.value for r in window]}"
                continue
            assert profile is not None, f"{user}: {[r.value for r in window]}"
            np.testing.assert_allclose(profile.embedding, expected, atol=1e-5)
            collaborative = signed_direction(
                [(factors.get(r.article_id), r.value) for r in window], spec.dislike_weight
            )
            if collaborative is None:
                assert profile.collaborative is None
            else:
                np.testing.assert_allclose(profile.collaborative, collaborative, atol=1e-5)
        counts = dict(
            FeedItemStat.objects.filter(feed_id=spec.feed_id).values_list(
                "item_key", "interactions"
            )
        )
        for article in Article.objects.all():
            likes = Reaction.objects.filter(article=article, value__gt=0).count()
            assert counts.get(str(article.pk), 0) == likes


def test_signed_profiles_match_a_recomputation_after_any_writes(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    clean_pipeline: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Collaborative vectors rebuilt during the run (and folded into between rebuilds),
    # so profiles are checked against them.
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "2")
    start_worker(threads=4)
    users = [User.objects.create(username=f"user{i}") for i in range(3)]
    broker = redis.Redis.from_url(redis_url)
    with psycopg.connect(clean_pipeline, autocommit=True) as conn:

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(operations=REACTIONS)
        def run(operations: list[tuple[Any, ...]]) -> None:
            for operation in operations:
                react(operation, users)
            wait_until(lambda: measure_backlog(conn, broker).idle, timeout=60, what="idle pipeline")
            check_signed_against_recomputation(users)

        run()
    broker.close()
