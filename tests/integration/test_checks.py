"""System checks name the feed, the problem and the command that fixes it."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.test import override_settings

from catalog.feeds import MovieFeed
from dnf_django.checks import check_feeds, check_installed

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
