"""Changing the embedding model: recorded, flagged by the checks, and re-embedded by
``manage.py dnf_reembed`` through real workers while the feed keeps serving."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.checks import check_feeds, check_installed
from dnf_django.models import EmbeddingModel, NextEmbedding, UserFeedProfile
from tests.conftest import set_feed_encoder, wait_until
from tests.encoders import ShiftedEncoder
from workers.spawn import stop_worker

pytestmark = pytest.mark.services

OLD = ("dnf_core.encoders.HashingEncoder", "hashing-384")
NEW = ("tests.encoders.ShiftedEncoder", "hashing-384")
OLD_IDENTITY = ":".join([*OLD, "384"])
NEW_IDENTITY = ":".join([*NEW, "384"])


def declare(monkeypatch: pytest.MonkeyPatch, encoder: tuple[str, str]) -> None:
    monkeypatch.setattr(MovieFeed, "encoder_class", encoder[0])
    monkeypatch.setattr(MovieFeed, "embedding_model_name", encoder[1])


def text_of(movie: Movie) -> str:
    return movie.title  # no genre nor tag: the feed's text is the title


def vectors() -> dict[int, np.ndarray]:
    return {m.pk: np.asarray(m.embedding) for m in Movie.objects.order_by("pk")}


def ranked(user: User, now: datetime) -> list[tuple[int, float]]:
    return [(m.pk, round(m.similarity, 6)) for m in MovieFeed.get_feed(user, limit=10, now=now)]


def profile_is_mean_of(user: User, liked: list[int], embeddings: dict[int, np.ndarray]) -> bool:
    profile = UserFeedProfile.objects.filter(user=user, feed_id="movies").first()
    if profile is None:
        return False
    mean = np.mean([embeddings[pk] for pk in liked], axis=0)
    return bool(np.allclose(profile.embedding, mean / np.linalg.norm(mean), atol=1e-5))


@pytest.fixture
def embedded(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[object, list[User], list[Movie]]:
    """Movies, likes and profiles made by the old model; the worker that made them."""
    declare(monkeypatch, OLD)
    worker = start_worker()
    users = [User.objects.create(username=f"r{i}") for i in range(2)]
    movies = Movie.objects.bulk_create(
        Movie(title=f"film {i} topic{i % 4} word{i % 3}") for i in range(30)
    )
    for n, user in enumerate(users):
        user.liked_movies.add(*movies[n * 5 : n * 5 + 5])
    wait_until(
        lambda: not Movie.objects.filter(embedding__isnull=True).exists(), what="all embedded"
    )
    wait_until(
        lambda: all(
            profile_is_mean_of(u, [m.pk for m in movies[n * 5 : n * 5 + 5]], vectors())
            for n, u in enumerate(users)
        ),
        what="old profiles",
    )
    return worker, users, movies


def test_the_model_that_made_the_vectors_is_recorded(embedded: tuple) -> None:
    assert EmbeddingModel.objects.get(feed_id="movies").identity == OLD_IDENTITY
    for movie in Movie.objects.all():
        expected = hashlib.md5(f"{OLD_IDENTITY}\n{text_of(movie)}".encode()).hexdigest()
        assert movie.embedding_hash == expected


def test_a_model_change_is_flagged_with_the_commands_to_run(
    embedded: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    declare(monkeypatch, NEW)
    (changed,) = [m for m in check_feeds() if m.id == "dnf_django.W006"]
    assert "'movies'" in changed.msg and NEW_IDENTITY in changed.msg
    assert "dnf_makemigrations" in changed.hint and "migrate" in changed.hint
    assert "dnf_reembed --feed movies" in changed.hint

    (serving,) = [m for m in check_installed(databases=["default"]) if m.id == "dnf_django.W007"]
    assert OLD_IDENTITY in serving.msg and NEW_IDENTITY in serving.msg
    assert "dnf_makemigrations" in serving.hint and "dnf_reembed --feed movies" in serving.hint

    # Once migrated, only the re-embedding is left to do.
    set_feed_encoder("movies", *NEW)
    (serving,) = [m for m in check_installed(databases=["default"]) if m.id == "dnf_django.W007"]
    assert serving.hint.startswith("run: python manage.py dnf_reembed --feed movies")


def test_a_dimension_change_names_the_migration_it_needs(embedded: tuple) -> None:
    EmbeddingModel.objects.filter(feed_id="movies").update(
        identity="dnf_core.encoders.HashingEncoder:hashing-768:768"
    )
    (serving,) = [m for m in check_installed(databases=["default"]) if m.id == "dnf_django.W007"]
    assert "dimension changes from 768 to 384" in serving.hint
    assert "makemigrations catalog" in serving.hint and "vector(384)" in serving.hint
    assert "UPDATE catalog_movie SET embedding = NULL" in serving.hint


def test_reembedding_serves_old_vectors_until_the_swap_then_everything_follows(
    embedded: tuple,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, users, movies = embedded
    old_vectors = vectors()
    now = timezone.now()
    before = [ranked(user, now) for user in users]
    assert all(before)

    # The change, as dnf_makemigrations + migrate install it; a fresh worker reads it.
    declare(monkeypatch, NEW)
    set_feed_encoder("movies", *NEW)
    stop_worker(worker, timeout=30)
    start_worker()

    # An edit and a new item while the feed serves the old vectors.
    Movie.objects.filter(pk=movies[0].pk).update(title="edited during the change")
    added = Movie.objects.create(title="added during the change")

    # Interrupted right after queueing: the workers go on filling the next store.
    with pytest.raises(CommandError, match=re.escape("Resume with: python manage.py dnf_reembed")):
        call_command("dnf_reembed", "--feed", "movies", "--timeout", "0", stdout=io.StringIO())
    wait_until(
        lambda: NextEmbedding.objects.filter(feed_id="movies").count() == len(movies) + 1,
        what="every item's next vector",
    )
    # Nothing the feed ranks with changed: same column, same profiles, same feeds.
    assert all(
        np.array_equal(old_vectors[pk], v) for pk, v in vectors().items() if pk in old_vectors
    )
    assert Movie.objects.get(pk=added.pk).embedding is None
    assert [ranked(user, now) for user in users] == before
    assert EmbeddingModel.objects.get(feed_id="movies").identity == OLD_IDENTITY

    out = io.StringIO()
    call_command("dnf_reembed", "--feed", "movies", "--poll", "0.2", stdout=out)
    assert "0 items queued" in out.getvalue() and "now serve" in out.getvalue()
    assert EmbeddingModel.objects.get(feed_id="movies").identity == NEW_IDENTITY
    assert not NextEmbedding.objects.exists()

    # Every item carries the new model's vector and hash.
    for movie in Movie.objects.all():
        text = text_of(movie)
        expected = ShiftedEncoder.encode_batch([text], "hashing-384")[0]
        assert np.allclose(movie.embedding, expected, atol=1e-6)
        assert movie.embedding_hash == hashlib.md5(f"{NEW_IDENTITY}\n{text}".encode()).hexdigest()
    new_vectors = vectors()

    # Profiles and rank vectors follow.
    wait_until(
        lambda: all(
            profile_is_mean_of(u, [m.pk for m in movies[n * 5 : n * 5 + 5]], new_vectors)
            for n, u in enumerate(users)
        ),
        what="profiles of the new vectors",
    )

    def ranks_follow() -> bool:
        with connection.cursor() as cur:
            cur.execute("SELECT item_key, rank::real[] FROM dnf_item_rank WHERE feed_id = 'movies'")
            rows = {int(key): np.asarray(rank[:384]) for key, rank in cur.fetchall()}
        return rows.keys() == new_vectors.keys() and all(
            np.allclose(rows[pk], v, atol=2e-3) for pk, v in new_vectors.items()
        )

    wait_until(ranks_follow, what="rank vectors of the new vectors")
    assert [ranked(user, now) for user in users] != before


def test_nothing_to_do_when_the_feed_serves_its_model(embedded: tuple) -> None:
    out = io.StringIO()
    call_command("dnf_reembed", "--feed", "movies", stdout=out)
    assert f"already serves vectors of {OLD_IDENTITY}" in out.getvalue()


def test_a_feed_not_migrated_to_its_declaration_is_refused(
    embedded: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    declare(monkeypatch, NEW)
    with pytest.raises(
        CommandError, match=re.escape("dnf_makemigrations && python manage.py migrate")
    ):
        call_command("dnf_reembed", "--feed", "movies")


def test_reembedding_into_a_column_of_another_dimension_is_refused_with_the_steps(
    embedded: tuple,
) -> None:
    EmbeddingModel.objects.filter(feed_id="movies").update(
        identity="dnf_core.encoders.HashingEncoder:hashing-768:768"
    )
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE catalog_movie ALTER COLUMN embedding TYPE vector(768) USING NULL")
    try:
        with pytest.raises(CommandError) as refused:
            call_command("dnf_reembed", "--feed", "movies")
    finally:
        with connection.cursor() as cur:
            cur.execute(
                "ALTER TABLE catalog_movie ALTER COLUMN embedding TYPE vector(384) USING NULL"
            )
    message = str(refused.value)
    assert (
        "makemigrations catalog" in message
        and "catalog_movie.embedding is not vector(384)" in message
    )
