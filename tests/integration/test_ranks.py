"""Rank vectors (stage one of the feed query) kept by real workers from real triggers."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from catalog.models import Movie
from dnf_django.models import ItemRank, RankState
from tests.conftest import wait_until

pytestmark = pytest.mark.services

CAP = 1.5  # workers.actors.rank.COORDINATE_CAP


def expected(movie: Movie, state: RankState, likes: int) -> np.ndarray:
    """The rank vector of ``movie``, computed here from the definition."""
    x = np.asarray(movie.embedding, dtype=np.float64)
    a = state.coord_scale
    age = (movie.published_at - state.t0).total_seconds() / state.half_life_s
    fresh = 2.0 ** min(max(age, -30.0), math.log2(CAP))
    pop = min(math.log1p(likes) / state.log_scale, CAP)
    slack = math.sqrt(max(1 + 2 * (a * CAP) ** 2 - x @ x - (a * fresh) ** 2 - (a * pop) ** 2, 0))
    return np.concatenate([x, [a * fresh, a * pop, slack]])


def rank_of(movie: Movie) -> np.ndarray | None:
    row = ItemRank.objects.filter(feed_id="movies", item_key=str(movie.pk)).first()
    return None if row is None else np.asarray(row.rank, dtype=np.float64)


def test_workers_keep_rank_vectors_with_embeddings_likes_and_deletes(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    now = timezone.now()
    movies = Movie.objects.bulk_create(
        [Movie(title=f"film {i}", published_at=now - timedelta(hours=24 * i)) for i in range(6)]
    )
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    for user in users:
        user.liked_movies.add(movies[0])
    users[0].liked_movies.add(movies[1])

    def settled() -> bool:
        state = RankState.objects.filter(feed_id="movies").first()
        if state is None:
            return False
        for movie in Movie.objects.filter(pk__in=[m.pk for m in movies]):
            got = rank_of(movie)
            if movie.embedding is None or got is None:
                return False
            likes = {movies[0].pk: 3, movies[1].pk: 1}.get(movie.pk, 0)
            # halfvec: 11 significant bits.
            if not np.allclose(got, expected(movie, state, likes), atol=2e-3, rtol=2e-3):
                return False
        return True

    wait_until(settled, what="rank vectors of every movie, with their likes")
    norms = [np.linalg.norm(rank_of(m)) for m in movies]  # type: ignore[arg-type]
    assert np.allclose(norms, norms[0], rtol=1e-2), "slack gives every rank vector one norm"

    Movie.objects.filter(pk=movies[5].pk).delete()
    Movie.objects.filter(pk=movies[4].pk).update(title="")  # empty text: no vector
    wait_until(
        lambda: (
            not ItemRank.objects.filter(
                feed_id="movies", item_key__in=[str(movies[4].pk), str(movies[5].pk)]
            ).exists()
        ),
        what="rank rows of the deleted and the emptied movie gone",
    )


def test_a_new_item_past_the_reference_point_moves_it_and_rows_follow(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    first = Movie.objects.create(title="first film")
    wait_until(lambda: rank_of(first) is not None, what="first film ranked")
    with connection.cursor() as cursor:
        # As if the feed had been installed three half-lives ago.
        cursor.execute(
            "UPDATE dnf_rank_state SET t0 = now() - 3 * make_interval(secs => half_life_s),"
            " rebased_at = now() - interval '1 day' WHERE feed_id = 'movies'"
        )
    before = RankState.objects.get(feed_id="movies").t0
    now = timezone.now()
    old = Movie.objects.create(title="older film", published_at=now - timedelta(hours=72))
    wait_until(lambda: rank_of(old) is not None, what="older film ranked")
    new = Movie.objects.create(title="brand new film", published_at=now)

    def rebased() -> bool:
        state = RankState.objects.get(feed_id="movies")
        if state.t0 <= before:
            return False
        for movie in (Movie.objects.get(pk=old.pk), Movie.objects.get(pk=new.pk)):
            got = rank_of(movie)
            if got is None or not np.allclose(got, expected(movie, state, 0), atol=2e-3):
                return False
        return True

    wait_until(rebased, what="reference point moved and both films recomputed against it")
    state = RankState.objects.get(feed_id="movies")
    got = rank_of(Movie.objects.get(pk=new.pk))
    assert got is not None and got[-3] <= state.coord_scale * CAP + 1e-3
