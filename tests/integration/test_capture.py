"""Every way of writing reaches the outbox, for every feed shape, with no Python signal."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from catalog.models import Genre, Movie
from dnf_core.events import events_of_row
from tests.feedapp.models import Article, Reaction

pytestmark = pytest.mark.services

Event = tuple[str, str, str | None, str | None]


def drain() -> Counter[Event]:
    """The events written to the outbox since the last drain, as a multiset."""
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM dnf_outbox "
            "RETURNING id, feed_id, kind, item_key, user_key, item_keys, user_keys"
        )
        events = [e for row in cur.fetchall() for e in events_of_row(*row)]
    return Counter((e.feed_id, e.kind.value, e.item_key, e.user_key) for e in events)


def items(feed: str, *objects: object) -> Counter[Event]:
    return Counter((feed, "item", str(o.pk), None) for o in objects)  # type: ignore[attr-defined]


def likes(feed: str, user: User, *objects: object) -> Counter[Event]:
    return Counter(
        (feed, "interaction", str(o.pk), str(user.pk))  # type: ignore[attr-defined]
        for o in objects
    )


@pytest.fixture
def ann(clean_pipeline: str) -> User:
    user = User.objects.create(username="ann")
    drain()
    return user


def test_save_and_delete_of_instances(ann: User) -> None:
    movie = Movie(title="Alien")
    movie.save()
    movie.title = "Aliens"
    movie.save()
    movie.save(update_fields=["published_at"])  # no text change: nothing
    pk = movie.pk
    movie.delete()
    assert drain() == Counter({("movies", "item", str(pk), None): 3})


def test_updates_that_leave_the_text_alone_add_nothing(ann: User) -> None:
    movie = Movie.objects.create(title="Alien")
    movie.genres.add(Genre.objects.create(name="Sci-Fi"))
    drain()
    Movie.objects.filter(pk=movie.pk).update(movielens_id=42)
    Movie.objects.filter(pk=movie.pk).update(embedding=[0.5] * 384, embedding_hash="x")
    movie.save()  # a full save rewrites every column with the same values
    assert drain() == Counter()


def test_one_row_and_one_notify_per_statement(ann: User, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN dnf_outbox")
        with transaction.atomic():
            Movie.objects.bulk_create([Movie(title=f"Movie {i}") for i in range(500)])
        notes = list(listener.notifies(timeout=1.0))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dnf_outbox")
        assert cur.fetchone() == (1,)
    assert sum(drain().values()) == 500
    assert [n.payload for n in notes] == ["movies"]


def test_bulk_create_and_bulk_update(ann: User) -> None:
    movies = Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(100)])
    assert drain() == items("movies", *movies)
    for movie in movies[:10]:
        movie.title += " (director's cut)"
    for movie in movies[10:20]:
        movie.movielens_id = movie.pk  # not embedded text
    Movie.objects.bulk_update(movies[:20], ["title", "movielens_id"])
    assert drain() == items("movies", *movies[:10])


def test_queryset_update_and_delete(ann: User) -> None:
    movies = Movie.objects.bulk_create([Movie(title=f"M{i}") for i in range(5)])
    drain()
    Movie.objects.filter(pk__in=[m.pk for m in movies[:2]]).update(title="Comedy")
    assert drain() == items("movies", *movies[:2])
    Movie.objects.filter(pk__in=[m.pk for m in movies[2:]]).delete()
    assert drain() == items("movies", *movies[2:])


def test_many_to_many_add_remove_set_and_clear(ann: User) -> None:
    a, b, c = Movie.objects.bulk_create([Movie(title=t) for t in "abc"])
    drain()
    ann.liked_movies.add(a, b)
    ann.liked_movies.remove(a)
    ann.liked_movies.set([b, c])  # adds c, keeps b
    assert drain() == likes("movies", ann, a, b) + likes("movies", ann, a) + likes("movies", ann, c)
    a.likes.add(ann)  # the reverse side writes the same table
    ann.liked_movies.clear()
    assert drain() == likes("movies", ann, a) + likes("movies", ann, a, b, c)


def test_cascades_from_deleting_an_item_or_a_user(ann: User) -> None:
    a, b = Movie.objects.bulk_create([Movie(title="a"), Movie(title="b")])
    ann.liked_movies.add(a, b)
    drain()
    a_pk = a.pk
    a.delete()
    assert drain() == Counter(
        {
            ("movies", "item", str(a_pk), None): 1,
            ("movies", "interaction", str(a_pk), str(ann.pk)): 1,
        }
    )
    ann_pk = ann.pk
    ann.delete()
    assert drain() == Counter({("movies", "interaction", str(b.pk), str(ann_pk)): 1})


def test_copy_and_raw_sql_from_another_connection(ann: User, database_url: str) -> None:
    with psycopg.connect(database_url) as other:
        with other.cursor().copy("COPY catalog_movie (title, published_at) FROM STDIN") as copy:
            for i in range(50):
                copy.write_row((f"copied {i}", "2020-01-01T00:00:00Z"))
        other.execute("UPDATE catalog_movie SET title = 'copied, edited' WHERE title = 'copied 0'")
    copied = list(Movie.objects.filter(title__startswith="copied"))
    edited = [m for m in copied if m.title == "copied, edited"]
    assert drain() == items("movies", *copied) + items("movies", *edited)


def test_truncate(ann: User) -> None:
    Movie.objects.create(title="x")
    drain()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE catalog_movie_likes")
        cur.execute("TRUNCATE catalog_movie CASCADE")
    assert drain() == Counter(
        {
            ("movies", "truncate_interactions", None, None): 2,  # each TRUNCATE reaches the likes
            ("movies", "truncate_items", None, None): 1,
        }
    )


def test_model_mode_interactions_with_values(ann: User) -> None:
    article = Article.objects.create(headline="Rust or Go?")
    drain()
    reaction = Reaction.objects.create(user=ann, article=article, value=1)
    reaction.value = -1  # a like turned dislike changes the profile too
    reaction.save()
    Reaction.objects.filter(pk=reaction.pk).delete()
    assert drain() == Counter({("reactions", "interaction", str(article.pk), str(ann.pk)): 3})


def test_feeds_sharing_a_table_each_get_their_events(ann: User) -> None:
    article = Article.objects.create(headline="Postgres 18", body="async io")
    assert drain() == items("reactions", article) + items("saved_articles", article)
    Article.objects.filter(pk=article.pk).update(views=5)  # neither feed embeds it
    assert drain() == Counter()
    ann.saved_articles.add(article)
    assert drain() == likes("saved_articles", ann, article)


def test_feeds_on_different_tables_stay_apart(ann: User) -> None:
    movie = Movie.objects.create(title="Heat")
    article = Article.objects.create(headline="Heat pumps")
    assert drain() == items("movies", movie) + items("reactions", article) + items(
        "saved_articles", article
    )
