"""The real trigger SQL, installed by the real migration, writing the outbox."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from catalog.models import Movie

pytestmark = pytest.mark.services


def outbox() -> list[tuple[str, str | None, str | None]]:
    with connection.cursor() as cur:
        cur.execute("SELECT kind, item_key, user_key FROM dnf_outbox ORDER BY id")
        return list(cur.fetchall())


def clear_outbox() -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_outbox")


def test_inserts_updates_and_deletes_of_text_are_captured(clean_pipeline: str) -> None:
    movie = Movie.objects.create(title="Alien", genres="Sci-Fi")
    assert outbox() == [("item", str(movie.pk), None)]
    clear_outbox()

    pk = movie.pk
    Movie.objects.filter(pk=pk).update(genres="Horror")
    movie.refresh_from_db()
    movie.delete()
    assert outbox() == [("item", str(pk), None)] * 2


def test_updates_that_leave_the_text_alone_add_nothing(clean_pipeline: str) -> None:
    movie = Movie.objects.create(title="Alien", genres="Sci-Fi")
    clear_outbox()
    Movie.objects.filter(pk=movie.pk).update(movielens_id=42)
    Movie.objects.filter(pk=movie.pk).update(embedding=[0.5] * 384)
    movie.save()  # a full save rewrites every column with the same values
    assert outbox() == []


def test_bulk_writes_cost_one_notify_per_statement(clean_pipeline: str, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN dnf_outbox")
        with transaction.atomic():
            Movie.objects.bulk_create([Movie(title=f"Movie {i}") for i in range(500)])
        notes = list(listener.notifies(timeout=1.0))
    assert len(outbox()) == 500
    assert [n.payload for n in notes] == ["movies"]


def test_likes_unlikes_clear_and_cascades_are_captured(clean_pipeline: str) -> None:
    user = User.objects.create(username="ann")
    movies = Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(3)])
    clear_outbox()

    user.liked_movies.add(*movies)
    user.liked_movies.remove(movies[0])
    user.liked_movies.clear()
    added = [("interaction", str(m.pk), str(user.pk)) for m in movies]
    # add() takes a set of ids, so compare the events as a multiset.
    assert sorted(outbox()) == sorted(added + added[:1] + added[1:])

    clear_outbox()
    user.liked_movies.add(movies[0])
    pk = user.pk
    user.delete()
    assert outbox() == [("interaction", str(movies[0].pk), str(pk))] * 2


def test_raw_sql_from_another_connection_is_captured(
    clean_pipeline: str, database_url: str
) -> None:
    user = User.objects.create(username="bob")
    with psycopg.connect(database_url) as other:
        row: Any = other.execute(
            "INSERT INTO catalog_movie (title, genres, tags, published_at) "
            "VALUES ('Heat', 'Crime', '', now()) RETURNING id"
        ).fetchone()
        other.execute(
            "INSERT INTO catalog_movie_likes (movie_id, user_id) VALUES (%s, %s)", [row[0], user.pk]
        )
    assert outbox() == [("item", str(row[0]), None), ("interaction", str(row[0]), str(user.pk))]


def test_truncate_is_captured_for_both_tables(clean_pipeline: str) -> None:
    Movie.objects.create(title="x")
    clear_outbox()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE catalog_movie CASCADE")
    assert sorted(kind for kind, _, _ in outbox()) == ["truncate_interactions", "truncate_items"]
