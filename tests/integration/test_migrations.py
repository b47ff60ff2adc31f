"""dnf_makemigrations: writes RunSQL migrations with the rendered SQL, only when due."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.feeds import MovieFeed
from dnf_core.ddl import CURRENT, DdlVersions, change_sql
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
    assert migration.name == "0004_dnf_movies"
    namespace: dict[str, object] = {}
    exec(compile(migration.source, migration.name, "exec"), namespace)  # it is valid Python
    (operation,) = namespace["Migration"].operations  # type: ignore[attr-defined]
    # The example's installed migration predates recorded DDL versions (v1 index).
    assert operation.sql.strip() == change_sql(old, DdlVersions(), new).strip()
    assert operation.reverse_sql.strip() == change_sql(new, CURRENT, old, DdlVersions()).strip()
    assert "DROP INDEX" in operation.sql  # v1 per-feed index gives way to the shared v2 one
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
    assert len(triggers) == 8
    # Specs stored by older versions lack newer fields; their defaults mean the same.
    assert FeedSpec.from_dict(json.loads(stored)).fingerprint == MovieFeed.get_spec().fingerprint
