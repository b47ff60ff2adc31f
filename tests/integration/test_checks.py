"""System checks name the feed, the problem and the command that fixes it."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.db import connection, models
from django.db.models import F, Value
from django.test import override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.checks import check_feeds, check_installed, check_settings

pytestmark = pytest.mark.services


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


def test_the_test_project_is_clean(db: None) -> None:
    assert check_feeds() == []
    assert check_installed(databases=["default"]) == []


def test_a_changed_feed_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MovieFeed, "text_fields", ("title",))
    (warning,) = check_feeds()
    assert warning.id == "dnf_django.W001" and "'movies'" in warning.msg
    assert "dnf_makemigrations" in warning.hint and "migrate" in warning.hint


def test_a_database_that_drifted_is_reported(db: None) -> None:
    with connection.cursor() as cur:
        cur.execute('DROP TRIGGER "dnf_movies_interaction_insert" ON catalog_movie_likes')
    (warning,) = check_installed(databases=["default"])
    assert warning.id == "dnf_django.W003" and "1 of 8 triggers missing" in warning.msg


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("text_fields", ("title", "nope"), "names 'nope', which is not a field of catalog.Movie"),
        ("mode", "graph", "mode must be 'm2m' or 'model'"),
        ("weight_similarity", "high", "weight_similarity must be a number"),
        ("feed_id", "Movies!", "feed_id 'Movies!' is invalid"),
    ],
)
def test_invalid_declarations_are_errors_naming_feed_and_attribute(
    monkeypatch: pytest.MonkeyPatch, attribute: str, value: object, message: str
) -> None:
    monkeypatch.setattr(MovieFeed, attribute, value)
    errors = [m for m in check_feeds() if m.id == "dnf_django.E001"]
    assert len(errors) == 1 and message in errors[0].msg


def test_dimension_mismatch_is_an_error() -> None:
    with override_settings(
        DJANGO_NEURAL_FEED={"FEEDS": ["catalog.feeds.MovieFeed"], "VECTOR_DIMENSION": 768}
    ):
        (error,) = check_feeds()
    assert (
        error.id == "dnf_django.E001" and "384 dimensions but VECTOR_DIMENSION is 768" in error.msg
    )


def test_duplicate_ids_and_disagreeing_shared_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.feedapp.feeds import SavedArticleFeed

    monkeypatch.setattr(SavedArticleFeed, "feed_id", "reactions")
    assert "dnf_django.E002" in ids(check_feeds())
    monkeypatch.setattr(SavedArticleFeed, "feed_id", "saved_articles")
    monkeypatch.setattr(SavedArticleFeed, "text_fields", ("headline",))
    assert "dnf_django.E003" in ids(check_feeds())


def test_checks_run_through_django(db: None) -> None:
    assert [m for m in run_checks(databases=["default"]) if m.id.startswith("dnf_django")] == []


def test_a_freshness_field_without_a_usable_index_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    field = Movie._meta.get_field("published_at")
    monkeypatch.setattr(field, "db_index", False)
    (warning,) = check_feeds()
    assert warning.id == "dnf_django.W004" and "sort the whole table" in warning.msg
    assert "db_index=True on catalog.Movie.published_at" in warning.hint
    # Nullable: a plain index cannot give DESC NULLS LAST, an expression index can.
    monkeypatch.setattr(field, "db_index", True)
    monkeypatch.setattr(field, "null", True)
    (warning,) = check_feeds()
    assert warning.id == "dnf_django.W004" and "nulls_last=True" in warning.hint
    index = models.Index(F("published_at").desc(nulls_last=True), name="movie_fresh")
    monkeypatch.setattr(Movie._meta, "indexes", [index])
    assert check_feeds() == []
    # A custom freshness expression brings its own ordering: nothing to check.
    monkeypatch.setattr(Movie._meta, "indexes", [])
    monkeypatch.setattr(MovieFeed, "freshness_expression", Value(1.0))
    assert check_feeds() == []


@pytest.mark.parametrize(
    ("extra", "check_id", "text"),
    [
        ({"CELERY_ENABLED": True}, "dnf_django.W005", "dnf_worker"),
        ({"HNSW": {"ENABLED": True}}, "dnf_django.W005", "HNSW_EF_SEARCH"),
        ({"WIEGHT_SIMILARITY": 0.5}, "dnf_django.E004", "did you mean 'WEIGHT_SIMILARITY'?"),
        ({"HNSW_ITERATIVE_SCAN": "fast"}, "dnf_django.E004", "'relaxed_order'"),
        ({"PAGE_MAX_ITEMS": 0}, "dnf_django.E004", "a positive integer, got 0"),
        ({"FRESHNESS_HALF_LIFE_HOURS": "72"}, "dnf_django.E004", "a positive number"),
    ],
)
def test_settings_keys_and_values_are_checked(
    extra: dict[str, object], check_id: str, text: str
) -> None:
    from django.conf import settings

    with override_settings(DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, **extra}):
        (message,) = check_settings()
    assert message.id == check_id and text in f"{message.msg} {message.hint}"
