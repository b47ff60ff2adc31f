"""Actors run in-process against the real database, with the deterministic encoder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import psycopg
import pytest
from django.contrib.auth.models import User

from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_core.encoders.base import Matrix
from dnf_core.events import Task, TaskKind
from dnf_django.models import FeedItemStat, UserFeedProfile
from tests.conftest import set_feed_encoder
from workers.actors import embed_items, recount_popularity, refresh_profiles
from workers.database import ThreadConnections
from workers.runtime import Runtime

pytestmark = pytest.mark.services


@pytest.fixture
def sent() -> list[Task]:
    return []


@pytest.fixture
def runtime(clean_pipeline: str, hashing_encoder: None, sent: list[Task]) -> Iterator[Runtime]:
    connections = ThreadConnections(clean_pipeline)
    yield Runtime(connections, sent.append)
    connections.close_all()


def keys(*movies: Movie) -> list[str]:
    return [str(m.pk) for m in movies]


def test_embedding_writes_the_encoder_vectors(runtime: Runtime) -> None:
    movies = Movie.objects.bulk_create(
        [Movie(title="Alien", genres="Sci-Fi"), Movie(title="Heat", tags="heist, crime")]
    )
    assert embed_items(runtime, "movies", keys(*movies)) == 2
    expected = HashingEncoder.encode_batch(["Alien Sci-Fi ", "Heat  heist, crime"], "hashing-384")
    for movie, vector in zip(movies, expected, strict=True):
        movie.refresh_from_db()
        np.testing.assert_allclose(movie.embedding, vector, atol=1e-6)


def test_empty_text_gets_no_vector_and_clears_a_stale_one(runtime: Runtime) -> None:
    movie = Movie.objects.create(title="Heat")
    embed_items(runtime, "movies", keys(movie))
    Movie.objects.filter(pk=movie.pk).update(title="  ")
    embed_items(runtime, "movies", keys(movie))
    movie.refresh_from_db()
    assert movie.embedding is None


def test_deleted_items_are_ignored(runtime: Runtime) -> None:
    assert embed_items(runtime, "movies", ["999999"]) == 0


class EditingEncoder(HashingEncoder):
    """Edits the row while 'encoding', as a concurrent writer would."""

    database_url = ""

    @classmethod
    def encode_batch(cls, texts: Sequence[str], model_name: str) -> Matrix:
        with psycopg.connect(cls.database_url, autocommit=True) as conn:
            conn.execute("UPDATE catalog_movie SET title = 'edited meanwhile'")
        return super().encode_batch(texts, model_name)


def test_a_vector_of_outdated_text_is_never_written(runtime: Runtime, clean_pipeline: str) -> None:
    movie = Movie.objects.create(title="original")
    EditingEncoder.database_url = clean_pipeline
    set_feed_encoder("movies", f"{__name__}.EditingEncoder", "hashing-384")
    assert embed_items(runtime, "movies", keys(movie)) == 0
    movie.refresh_from_db()
    assert movie.embedding is None and movie.title == "edited meanwhile"


def test_embedding_liked_items_refreshes_their_likers(runtime: Runtime, sent: list[Task]) -> None:
    user = User.objects.create(username="ann")
    movie = Movie.objects.create(title="Alien")
    user.liked_movies.add(movie)
    embed_items(runtime, "movies", keys(movie))
    assert sent == [Task(TaskKind.PROFILES, "movies", (str(user.pk),))]


def stored(movie: Movie) -> np.ndarray:
    movie.refresh_from_db()
    return np.asarray(movie.embedding, dtype=np.float64)


def test_profile_is_the_normalized_mean_of_the_recent_window(runtime: Runtime) -> None:
    user = User.objects.create(username="ann")
    movies = Movie.objects.bulk_create(
        [Movie(title=f"movie number {i} word{i}") for i in range(25)]
    )
    embed_items(runtime, "movies", keys(*movies[:24]))  # the last one stays unembedded
    for movie in movies:  # one add per movie: through ids follow this order
        user.liked_movies.add(movie)
    refresh_profiles(runtime, "movies", [str(user.pk)])

    # The window (20) counts only embedded items: the newest like is not embedded.
    window = [stored(m) for m in movies[4:24]]
    mean = np.mean(window, axis=0)
    profile = UserFeedProfile.objects.get(user=user, feed_id="movies")
    np.testing.assert_allclose(profile.embedding, mean / np.linalg.norm(mean), atol=1e-5)


def test_profile_disappears_when_no_like_is_left(runtime: Runtime) -> None:
    user = User.objects.create(username="ann")
    movie = Movie.objects.create(title="Alien")
    embed_items(runtime, "movies", keys(movie))
    user.liked_movies.add(movie)
    refresh_profiles(runtime, "movies", [str(user.pk)])
    assert UserFeedProfile.objects.filter(user=user).exists()
    user.liked_movies.clear()
    refresh_profiles(runtime, "movies", [str(user.pk)])
    assert not UserFeedProfile.objects.filter(user=user).exists()


def test_popularity_is_recounted_per_item(runtime: Runtime) -> None:
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    movies = Movie.objects.bulk_create([Movie(title="a"), Movie(title="b")])
    for user in users:
        user.liked_movies.add(movies[0])
    users[0].liked_movies.add(movies[1])
    recount_popularity(runtime, "movies", keys(*movies))
    recount_popularity(runtime, "movies", keys(*movies))  # replays change nothing
    counts = dict(FeedItemStat.objects.values_list("item_key", "interactions"))
    assert counts == {str(movies[0].pk): 3, str(movies[1].pk): 1}
    users[0].liked_movies.clear()
    recount_popularity(runtime, "movies", keys(*movies))
    counts = dict(FeedItemStat.objects.values_list("item_key", "interactions"))
    assert counts == {str(movies[0].pk): 2, str(movies[1].pk): 0}
