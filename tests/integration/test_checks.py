"""System checks name the feed, the problem and the command that fixes it."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import F, Value
from django.test import override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.checks import check_feeds, check_installed, check_settings
from dnf_django.migration_writer import unmigrated

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


def migration_state(**without: str) -> ProjectState:
    """The state the migrations on disk build, minus ``model`` or ``model.field`` entries."""
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    for model in without.get("models", "").split():
        del state.models[("catalog", model)]
    for path in without.get("fields", "").split():
        model, field = path.split(".")
        del state.models[("catalog", model)].fields[field]
    return state


def test_what_no_migration_creates_yet_is_named() -> None:
    assert unmigrated(MovieFeed, migration_state()) == []
    assert unmigrated(MovieFeed, migration_state(models="movie")) == ["catalog.Movie"]
    missing = unmigrated(MovieFeed, migration_state(fields="movie.embedding movie.likes"))
    assert missing == ["catalog.Movie.embedding", "catalog.Movie.likes"]


def test_no_migration_warning_before_the_models_have_migrations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A feed migration is due; the first makemigrations of a project has not yet
    # written the model's (or, here, the new text field's) migration: nothing to ask.
    monkeypatch.setattr(MovieFeed, "text_fields", ("title",))
    states = [migration_state(models="movie"), migration_state(fields="movie.title")]
    for state in states:
        monkeypatch.setattr(MigrationLoader, "project_state", lambda self, s=state: s)
        assert check_feeds() == []
    # Once the tables and columns are in migrations, the warning is due.
    monkeypatch.undo()
    monkeypatch.setattr(MovieFeed, "text_fields", ("title",))
    assert ids(check_feeds()) == ["dnf_django.W001"]


def test_a_feed_with_no_migration_yet_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MovieFeed, "feed_id", "films")
    (warning,) = check_feeds()
    assert warning.id == "dnf_django.W001"
    assert warning.msg == "feed 'films' has no migration yet"


def unapply(app: str, name: str) -> None:
    """Forget, in the test's transaction, that ``app.name`` was applied."""
    MigrationRecorder(connection).migration_qs.filter(app=app, name=name).delete()


def test_tables_that_migrate_is_about_to_create_are_no_drift(db: None) -> None:
    # What migrate sees before it creates neural-feed's tables: unreadable, yet quiet.
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE dnf_feed RENAME TO dnf_feed_gone")
    (warning,) = check_installed(databases=["default"])
    assert warning.id == "dnf_django.W002" and "dnf_grants" in warning.hint
    unapply("dnf_django", "0001_initial")
    assert check_installed(databases=["default"]) == []


def test_a_feed_that_migrate_is_about_to_install_is_no_drift(db: None) -> None:
    with connection.cursor() as cur:
        cur.execute('DROP TRIGGER "dnf_movies_content_update" ON catalog_movie')
    assert ids(check_installed(databases=["default"])) == ["dnf_django.W003"]
    unapply("catalog", "0007_dnf_movies")
    assert check_installed(databases=["default"]) == []


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
        ("weight_similarity", "high", "weight_similarity must be a finite number"),
        ("weight_popularity", float("nan"), "feed MovieFeed: weight_popularity must be a finite"),
        ("text_fields", ("title", "likes"), "'likes' is a ManyToManyField, a many-valued relation"),
        ("diversity", 2, "feed MovieFeed: diversity must be None or a number in (0, 1]"),
        ("encoder_class", "nowhere.Encoder", "cannot import encoder class 'nowhere.Encoder'"),
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
    # The same fields joined another way are another text.
    monkeypatch.setattr(SavedArticleFeed, "text_fields", ("headline", "body"))
    assert "dnf_django.E003" not in ids(check_feeds())
    monkeypatch.setattr(SavedArticleFeed, "text_template", "{headline}: {body}")
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
        ({"FRESHNESS_HALF_LIFE_HOURS": "72"}, "dnf_django.E004", "a finite number > 0"),
        ({"REDIS_URL": "localhost:6379"}, "dnf_django.E004", "a URL starting with redis://"),
    ],
)
def test_settings_keys_and_values_are_checked(
    extra: dict[str, object], check_id: str, text: str
) -> None:
    from django.conf import settings

    with override_settings(DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, **extra}):
        (message,) = check_settings()
    assert message.id == check_id and text in f"{message.msg} {message.hint}"
