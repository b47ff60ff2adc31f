"""Each process runs on the least privileges ``dnf_grants`` prints, and no more.

Roles are created in the test database's server, granted exactly what
``dnf_core.grants`` renders for the installed feeds, and each part of the pipeline
then runs as its role: the web app writes content and likes (firing the triggers)
and reads the feed, the relay backfills and moves the outbox, the workers embed and
build profiles and counts. Connections take their role from the URL
(``options=-c role=...``), as a deployment's login roles would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from catalog.feeds import MovieFeed
from catalog.models import Genre, Movie
from dnf_core.events import Task, TaskKind
from dnf_core.grants import PROCESSES, grant_sql
from dnf_django import pause_capture
from dnf_django.models import EmbeddingModel, NextEmbedding
from dnf_django.registry import installed_specs
from workers.actors import HANDLERS
from workers.backfill import backfill
from workers.database import ThreadConnections, connect
from workers.failures import clear_failures, record_failures
from workers.relay import Relay
from workers.runtime import Runtime

pytestmark = pytest.mark.services

ROLES = {process: f"dnf_test_{process}" for process in PROCESSES}
# The web app's own tables: its business, not neural-feed's; granted so it can write.
APP_TABLES = (
    "auth_user",
    "catalog_movie",
    "catalog_movie_likes",
    "catalog_genre",
    "catalog_movie_genres",
)


def _execute(statement: str | sql.Composed, params: list[Any] | None = None) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _drop_roles() -> None:
    for role in ROLES.values():
        exists = sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s")
        with connection.cursor() as cur:
            cur.execute(exists, [role])
            if cur.fetchone():
                cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def roles(hashing_encoder: None, database_url: str) -> Iterator[dict[str, str]]:
    """A URL per process, connecting as a role holding only its grants."""
    _drop_roles()  # a leftover of an interrupted run
    specs = installed_specs().values()
    try:
        for process, role in ROLES.items():
            _execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            _execute(grant_sql(process, role, specs))
        app = sql.SQL(", ").join(map(sql.Identifier, APP_TABLES))
        _execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                app, sql.Identifier(ROLES["web"])
            )
        )
        yield {p: make_conninfo(database_url, options=f"-c role={r}") for p, r in ROLES.items()}
    finally:
        _execute("RESET ROLE")
        _drop_roles()


class AsWeb:
    """The Django connection as the web app's role, for the block."""

    def __enter__(self) -> None:
        _execute(sql.SQL("SET ROLE {}").format(sql.Identifier(ROLES["web"])))

    def __exit__(self, *exc_info: object) -> None:
        _execute("RESET ROLE")


def _perform(worker_url: str, tasks: list[Task]) -> int:
    """Run tasks and their follow-ups as the workers' role, as the actors would."""
    runtime = Runtime(ThreadConnections(worker_url), send=tasks.append)
    performed = 0
    try:
        while tasks:
            task = tasks.pop(0)
            HANDLERS[task.kind](runtime, task.feed_id, list(task.keys))
            performed += 1
    finally:
        runtime.connections.close_all()
    return performed


def _refused(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except errors.InsufficientPrivilege:
            return True
    return False


def test_the_pipeline_runs_on_least_privileges(roles: dict[str, str]) -> None:
    with AsWeb():
        user = User.objects.create(username="least")
        movies = Movie.objects.bulk_create([Movie(title=f"film {i}") for i in range(20)])
        Movie.objects.filter(pk=movies[0].pk).update(title="renamed")
        # Captured on the link table, which the feed's text reads, as the web role.
        movies[1].genres.add(Genre.objects.create(name="Drama"))
        for movie in movies[:5]:
            movie.likes.add(user)  # one statement each: the trigger runs as the web role
        # A bulk import hands its feed back to the backfill as the web role too.
        with pause_capture(MovieFeed):
            Movie.objects.create(title="imported")

    # Before the relay moves them, a backfill as the relay's role queues everything again.
    with connect(roles["relay"], autocommit=True) as conn:
        for spec in installed_specs().values():
            backfill(conn, spec, restart=True)
    tasks: list[Task] = []
    with Relay(roles["relay"], tasks.append) as relay:
        assert relay.drain() > 5
    assert {t.kind for t in tasks} == {TaskKind.EMBED, TaskKind.PROFILES, TaskKind.POPULARITY}

    assert _perform(roles["worker"], tasks) >= 3
    assert Movie.objects.filter(embedding__isnull=False).count() == 21  # with the import
    with connect(roles["worker"], autocommit=True) as conn, conn.transaction():
        record_failures(conn, "movies", TaskKind.EMBED, ["1"], "test")
        clear_failures(conn, "movies", TaskKind.EMBED, ["1"])
        record_failures(conn, "movies", TaskKind.EMBED, ["2"], "test")
    _perform(roles["worker"], [Task(TaskKind.RESET, "movies", ())])

    with AsWeb():
        feed = list(MovieFeed.get_feed(user, limit=10))
        retried = _retry_failures()
    assert len(feed) == 10 and all(item.similarity is not None for item in feed)
    assert retried == 1


def _retry_failures() -> int:
    from dnf_core.sqlfiles import load_sql

    with connection.cursor() as cur:
        cur.execute(
            load_sql("queries/failures_requeue"), {"feed_id": None, "task": None, "ids": None}
        )
        return int(cur.fetchone()[0])


@pytest.mark.parametrize(
    ("process", "statement"),
    [
        ("web", "DELETE FROM dnf_outbox"),
        ("web", "UPDATE dnf_user_profile SET updated_at = now()"),
        ("relay", "SELECT count(*) FROM dnf_user_profile"),
        ("relay", "UPDATE catalog_movie SET embedding = NULL"),
        ("worker", "DELETE FROM dnf_outbox"),
        ("worker", "UPDATE catalog_movie SET title = 'x'"),
        ("worker", "DELETE FROM catalog_movie_likes"),
    ],
)
def test_each_role_is_refused_what_it_does_not_need(
    roles: dict[str, str], process: str, statement: str
) -> None:
    assert _refused(roles[process], statement)


def test_a_reembedding_runs_on_the_workers_privileges(roles: dict[str, str]) -> None:
    movies = Movie.objects.bulk_create([Movie(title=f"film {i}") for i in range(5)])
    keys = tuple(str(m.pk) for m in movies)
    # The feed serves an older model: the workers put the new vectors aside.
    now = timezone.now()
    EmbeddingModel.objects.create(feed_id="movies", identity="old:model:384", updated_at=now)
    _perform(roles["worker"], [Task(TaskKind.EMBED, "movies", keys)])
    assert NextEmbedding.objects.filter(feed_id="movies").count() == 5
    assert not Movie.objects.filter(embedding__isnull=False).exists()
