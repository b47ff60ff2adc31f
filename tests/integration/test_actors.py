"""Actors run in-process against the real database, with the deterministic encoder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Genre, Movie, Tag
from dnf_core.encoders import HashingEncoder
from dnf_core.errors import EncoderError
from dnf_core.events import BatchLimits, Task, TaskKind
from dnf_django.models import Failure, FeedItemStat, ItemFactor, UserFeedProfile
from tests.conftest import set_feed_encoder
from tests.encoders import EditingEncoder, PoisonEncoder
from tests.feedapp.models import Article, Reaction
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
    movies = Movie.objects.bulk_create([Movie(title="Alien"), Movie(title="Heat")])
    movies[0].genres.add(Genre.objects.create(name="Sci-Fi"))
    for name in ("heist", "crime"):  # the feed reads tags in the order they were added
        movies[1].tags.add(Tag.objects.create(name=name))
    assert embed_items(runtime, "movies", keys(*movies)) == 2
    expected = HashingEncoder.encode_batch(["Alien Sci-Fi", "Heat heist, crime"], "hashing-384")
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


def test_a_vector_of_outdated_text_is_never_written(runtime: Runtime, clean_pipeline: str) -> None:
    movie = Movie.objects.create(title="original")
    EditingEncoder.database_url = clean_pipeline
    set_feed_encoder("movies", "tests.encoders.EditingEncoder", "hashing-384")
    assert embed_items(runtime, "movies", keys(movie)) == 0
    movie.refresh_from_db()
    assert movie.embedding is None and movie.title == "edited meanwhile"


def test_embedding_liked_items_refreshes_their_likers(runtime: Runtime, sent: list[Task]) -> None:
    user = User.objects.create(username="ann")
    movie = Movie.objects.create(title="Alien")
    user.liked_movies.add(movie)
    embed_items(runtime, "movies", keys(movie))
    assert sent == [Task(TaskKind.PROFILES, "movies", (str(user.pk),))]


def stored(item: Movie | Article) -> np.ndarray:
    item.refresh_from_db()
    return np.asarray(item.embedding, dtype=np.float64)


def test_profile_is_the_normalized_mean_of_the_recent_window(runtime: Runtime) -> None:
    size = MovieFeed.get_spec().window
    user = User.objects.create(username="ann")
    movies = Movie.objects.bulk_create(
        [Movie(title=f"movie number {i} word{i}") for i in range(size + 5)]
    )
    embed_items(runtime, "movies", keys(*movies[:-1]))  # the last one stays unembedded
    for movie in movies:  # one add per movie: through ids follow this order
        user.liked_movies.add(movie)
    refresh_profiles(runtime, "movies", [str(user.pk)])

    # The window counts only embedded items: the newest like is not embedded.
    window = [stored(m) for m in movies[-1 - size : -1]]
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


def failures() -> dict[str, str]:
    return dict(Failure.objects.filter(task="embed").values_list("key", "error"))


@pytest.mark.parametrize(("encoder", "word"), [("PoisonEncoder", "poison"), ("NaNEncoder", "nan")])
def test_a_poison_item_is_isolated_and_recorded(runtime: Runtime, encoder: str, word: str) -> None:
    set_feed_encoder("movies", f"tests.encoders.{encoder}", "hashing-384")
    movies = Movie.objects.bulk_create([Movie(title=f"fine {i}") for i in range(9)])
    bad = Movie.objects.create(title=f"{word} pill")
    assert embed_items(runtime, "movies", keys(*movies, bad)) == 9
    assert Movie.objects.filter(embedding__isnull=True).get() == bad
    assert list(failures()) == [str(bad.pk)]
    assert ("cannot encode this" if word == "poison" else "NaN") in failures()[str(bad.pk)]

    Movie.objects.filter(pk=bad.pk).update(title="cured")
    set_feed_encoder("movies", "dnf_core.encoders.HashingEncoder", "hashing-384")
    embed_items(runtime, "movies", keys(bad))
    assert failures() == {}  # a success clears the record


def test_an_encoder_failing_on_everything_raises_for_a_retry(runtime: Runtime) -> None:
    set_feed_encoder("movies", "tests.encoders.PoisonEncoder", "hashing-384")
    movies = Movie.objects.bulk_create([Movie(title=f"poison {i}") for i in range(4)])
    with pytest.raises(EncoderError, match="failed on every item"):
        embed_items(runtime, "movies", keys(*movies))
    assert failures() == {}


def test_wrong_dimension_is_an_error_not_a_vector(runtime: Runtime) -> None:
    set_feed_encoder("movies", "dnf_core.encoders.HashingEncoder", "hashing-128")
    movie = Movie.objects.create(title="Alien")
    with pytest.raises(EncoderError, match="128-dimensional"):
        embed_items(runtime, "movies", keys(movie))
    movie.refresh_from_db()
    assert movie.embedding is None


def test_replayed_events_do_not_re_encode(runtime: Runtime) -> None:
    set_feed_encoder("movies", "tests.encoders.PoisonEncoder", "hashing-384")
    movies = Movie.objects.bulk_create([Movie(title=f"m {i}") for i in range(3)])
    PoisonEncoder.calls = 0
    assert embed_items(runtime, "movies", keys(*movies)) == 3
    assert embed_items(runtime, "movies", keys(*movies)) == 0
    assert PoisonEncoder.calls == 1


def test_the_time_budget_requeues_the_rest(runtime: Runtime, sent: list[Task]) -> None:
    runtime.limits = BatchLimits(encode_batch=2, embed_seconds=0.0)
    movies = Movie.objects.bulk_create([Movie(title=f"m {i}") for i in range(5)])
    assert embed_items(runtime, "movies", keys(*movies)) == 2
    assert sent == [Task(TaskKind.EMBED, "movies", tuple(keys(*movies[2:])))]


def test_profile_with_dislikes_is_pushed_away(runtime: Runtime) -> None:
    user = User.objects.create(username="ann")
    articles = Article.objects.bulk_create(
        [
            Article(headline=h)
            for h in ("rust borrow checker", "go channels", "cooking pasta", "neutral")
        ]
    )
    embed_items(runtime, "reactions", keys(*articles))
    now = timezone.now()
    for article, value, minutes in zip(articles, (1, 1, -1, 0), (1, 2, 3, 4), strict=True):
        Reaction.objects.create(
            user=user, article=article, value=value, reacted_at=now + timedelta(minutes=minutes)
        )
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    vectors = [stored(a) for a in articles]
    direction = vectors[0] + vectors[1] - 0.5 * vectors[2]  # the neutral one does not count
    profile = UserFeedProfile.objects.get(user=user, feed_id="reactions").embedding
    np.testing.assert_allclose(profile, direction / np.linalg.norm(direction), atol=1e-5)

    # Dislikes alone: the same formula, the normalized negative of the dislikes' mean.
    Reaction.objects.filter(value__gt=0).delete()
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    profile = UserFeedProfile.objects.get(user=user, feed_id="reactions").embedding
    np.testing.assert_allclose(profile, -vectors[2] / np.linalg.norm(vectors[2]), atol=1e-5)

    # A like and dislikes of the same item that cancel out leave no direction.
    Reaction.objects.create(user=user, article=articles[2], value=-1, reacted_at=now)
    Reaction.objects.create(user=user, article=articles[2], value=1, reacted_at=now)
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    assert not UserFeedProfile.objects.filter(user=user, feed_id="reactions").exists()


def test_the_collaborative_part_is_signed_like_the_text_part(runtime: Runtime) -> None:
    user = User.objects.create(username="ann")
    articles = Article.objects.bulk_create(
        [Article(headline=h) for h in ("rust", "go", "pasta", "no vector learned")]
    )
    embed_items(runtime, "reactions", keys(*articles))
    rng = np.random.default_rng(7)
    factors = [rng.normal(size=256) for _ in articles[:3]]
    ItemFactor.objects.bulk_create(
        ItemFactor(feed_id="reactions", item_key=str(a.pk), factor=f.tolist())
        for a, f in zip(articles, factors, strict=False)
    )
    now = timezone.now()
    for article, value, minutes in zip(articles, (1, 1, -1, -1), (1, 2, 3, 4), strict=True):
        Reaction.objects.create(
            user=user, article=article, value=value, reacted_at=now + timedelta(minutes=minutes)
        )
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    # The item without a collaborative vector adds nothing to that part.
    direction = factors[0] + factors[1] - 0.5 * factors[2]
    profile = UserFeedProfile.objects.get(user=user, feed_id="reactions").collaborative
    np.testing.assert_allclose(profile, direction / np.linalg.norm(direction), atol=1e-5)

    Reaction.objects.filter(value__gt=0).delete()
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    profile = UserFeedProfile.objects.get(user=user, feed_id="reactions").collaborative
    np.testing.assert_allclose(profile, -factors[2] / np.linalg.norm(factors[2]), atol=1e-5)

    # Dislikes of items nobody has a collaborative vector for: a text profile only.
    Reaction.objects.filter(article=articles[2]).delete()
    refresh_profiles(runtime, "reactions", [str(user.pk)])
    profile = UserFeedProfile.objects.get(user=user, feed_id="reactions")
    assert profile.embedding is not None and profile.collaborative is None


def test_popularity_counts_likes_only_with_a_value_column(runtime: Runtime) -> None:
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    article = Article.objects.create(headline="x")
    for user, value in zip(users, (1, -1, 0), strict=True):
        Reaction.objects.create(user=user, article=article, value=value)
    recount_popularity(runtime, "reactions", keys(article))
    assert FeedItemStat.objects.get(feed_id="reactions").interactions == 1
