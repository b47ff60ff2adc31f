"""dnf_makemigrations: writes RunSQL migrations with the rendered SQL, only when due."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.feeds import MovieFeed
from dnf_core.ddl import CURRENT, DdlVersions, change_sql, current_versions, install_sql
from dnf_core.spec import FeedSpec
from dnf_django.migration_writer import pending_migrations

pytestmark = pytest.mark.services


def test_the_committed_example_migration_is_up_to_date() -> None:
    assert pending_migrations([MovieFeed]) == []
    call_command("dnf_makemigrations", "--check")


def test_a_changed_spec_gets_a_migration_that_swaps_the_sql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = MovieFeed.get_spec()
    monkeypatch.setattr(MovieFeed, "text_fields", ("title",))
    (migration,) = pending_migrations([MovieFeed])
    new = migration.spec
    assert new.text_columns == ("title",) and new.fingerprint != old.fingerprint
    assert migration.name == "0014_dnf_movies"
    namespace: dict[str, object] = {}
    exec(compile(migration.source, migration.name, "exec"), namespace)  # it is valid Python
    (operation,) = namespace["Migration"].operations  # type: ignore[attr-defined]
    assert operation.sql.strip() == change_sql(old, CURRENT, new).strip()
    assert operation.reverse_sql.strip() == change_sql(new, CURRENT, old, CURRENT).strip()
    assert "INDEX" not in operation.sql  # same table and column: the index stays
    with pytest.raises(CommandError, match="due"):
        call_command("dnf_makemigrations", "--check")


def test_migrate_installed_the_triggers_and_the_registry_row(db: None) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dnf_movies_%%' ORDER BY tgname"
        )
        triggers = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT spec FROM dnf_feed WHERE feed_id = 'movies'")
        (stored,) = cur.fetchone()
    # Content and interactions; genres, tags and their two link tables, read by the text.
    assert len(triggers) == 8 + 4 * 4
    # Specs stored by older versions lack newer fields; their defaults mean the same.
    assert FeedSpec.from_dict(json.loads(stored)).fingerprint == MovieFeed.get_spec().fingerprint


def triggers_of(feed_id: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE %s", [f"dnf_{feed_id}_%"])
        return {row[0] for row in cur.fetchall()}


def registered() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT feed_id FROM dnf_feed")
        return {row[0] for row in cur.fetchall()}


def indexes_on(table: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cur.fetchall()}


def test_feed_migrations_reverse_and_reapply(transactional_db: None) -> None:
    shared_index = "dnf_hnsw_feedapp_article_embedding"
    rank_indexes = {"dnf_rank_reactions", "dnf_rank_saved_articles"}

    def installed_now() -> None:
        assert len(triggers_of("saved_articles")) == 8
        # Content and interactions, and the 6 tables its text reads through lookups
        # (whose four triggers have the same names on each table).
        assert len(triggers_of("posts")) == 8 + 4
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dnf_posts_related_%%'")
            assert cur.fetchone() == (4 * 6,)
        assert {"reactions", "saved_articles"} <= registered()
        # Feed queries search rank vectors: the embedding column's index is retired.
        assert rank_indexes <= indexes_on("dnf_item_rank")
        assert shared_index not in indexes_on("feedapp_article")

    installed_now()
    try:
        call_command("migrate", "feedapp", "0002", verbosity=0)
        assert triggers_of("saved_articles") == set() == triggers_of("posts")
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE 'dnf_posts_%%'")
            assert cur.fetchone() == (0,)
        assert "saved_articles" not in registered()
        assert not rank_indexes & indexes_on("dnf_item_rank")
        # The remaining feed is back at templates that searched the shared index.
        assert shared_index in indexes_on("feedapp_article")
        call_command("migrate", "feedapp", "0001", verbosity=0)
        assert triggers_of("reactions") == set() and shared_index not in indexes_on(
            "feedapp_article"
        )
    finally:
        call_command("migrate", "feedapp", verbosity=0)
    installed_now()


def test_sqlmigrate_shows_the_rendered_sql(db: None) -> None:
    out = io.StringIO()
    call_command("sqlmigrate", "feedapp", "0002", stdout=out)
    assert (
        'CREATE TRIGGER "dnf_reactions_content_insert" AFTER INSERT ON "feedapp_article"'
        in out.getvalue()
    )


def test_feeds_installed_with_older_templates_get_an_upgrade_migration() -> None:
    from django.db.migrations.loader import MigrationLoader

    from dnf_django.migration_writer import installed_spec

    loader = MigrationLoader(None, ignore_no_migrations=True)
    # The example's first feed migration predates recorded versions: v1 everything.
    first = loader.disk_migrations[("catalog", "0002_dnf_movies")]
    assert "ddl" not in first.dnf_feed
    upgrade = loader.disk_migrations[("catalog", "0004_dnf_movies")]
    assert DdlVersions.from_dict(upgrade.dnf_feed["ddl"]) == DdlVersions(2, 2, rank=0)
    # Rank vectors came later, as one more upgrade that adds them and retires the
    # embedding column's index (and puts it back on the way down).
    ranks = loader.disk_migrations[("catalog", "0006_dnf_movies")]
    assert DdlVersions.from_dict(ranks.dnf_feed["ddl"]) == DdlVersions(2, 3, rank=1, factor=1)
    forward, backward = ranks.operations[0].sql, ranks.operations[0].reverse_sql
    assert "dnf_rank_movies" in forward
    assert 'DROP INDEX IF EXISTS "dnf_hnsw_catalog_movie_embedding"' in forward
    assert 'CREATE INDEX IF NOT EXISTS "dnf_hnsw_catalog_movie_embedding"' in backward
    # Then a better-built collaborative index, replaced in place: the vectors stay.
    factors = loader.disk_migrations[("catalog", "0007_dnf_movies")]
    assert DdlVersions.from_dict(factors.dnf_feed["ddl"]) == DdlVersions(2, 3, 1, 2)
    forward = factors.operations[0].sql
    assert "ef_construction = 256" in forward and "DELETE FROM dnf_item_factor" not in forward
    assert "dnf_rank_movies" not in forward
    # Then an index of their own for users without a profile; rank vectors stay.
    cold = loader.disk_migrations[("catalog", "0008_dnf_movies")]
    assert DdlVersions.from_dict(cold.dnf_feed["ddl"]) == DdlVersions(2, 3, 1, 2, cold=1)
    forward, backward = cold.operations[0].sql, cold.operations[0].reverse_sql
    assert 'CREATE INDEX IF NOT EXISTS "dnf_cold_movies"' in forward
    assert "DELETE FROM dnf_item_rank" not in forward
    assert 'DROP INDEX IF EXISTS "dnf_cold_movies"' in backward
    # Then triggers that a bulk import can pause: only the triggers are replaced.
    pausable = loader.disk_migrations[("catalog", "0009_dnf_movies")]
    assert DdlVersions.from_dict(pausable.dnf_feed["ddl"]) == replace(CURRENT, related=0)
    forward, backward = pausable.operations[0].sql, pausable.operations[0].reverse_sql
    assert 'DROP FUNCTION IF EXISTS "dnf_movies_content_v2"()' in forward
    assert "dnf.capture_paused" in forward and "INDEX" not in forward
    assert 'CREATE FUNCTION "dnf_movies_content_v2"()' in backward
    spec, versions = installed_spec(loader, "catalog", "movies")
    assert versions == current_versions(spec)
    assert spec.fingerprint == MovieFeed.get_spec().fingerprint
    assert "dnf_movies_content_v3" in install_sql(spec)
