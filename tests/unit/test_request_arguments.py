"""The checks every feed entry point applies to its arguments, without a database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.test.utils import isolate_apps
from django.utils.functional import SimpleLazyObject

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.arguments import checked_item, checked_items, checked_user
from tests.feedapp.models import Article, Reaction


@pytest.fixture
def movie_proxy() -> Iterator[type[Movie]]:
    """A proxy of Movie, registered in a registry of its own: in the project's, it would
    be a model makemigrations wants a migration for."""
    with isolate_apps("catalog"):

        class MovieProxy(Movie):
            class Meta:
                proxy = True
                app_label = "catalog"

        yield MovieProxy


def test_users_that_are_users_pass() -> None:
    saved = User(pk=7, username="u")
    assert checked_user(None) is None
    anonymous = AnonymousUser()
    assert checked_user(anonymous) is anonymous
    assert checked_user(saved) is saved
    # request.user is a lazy object that presents the user's class.
    lazy = SimpleLazyObject(lambda: saved)
    assert checked_user(lazy) is lazy


@pytest.mark.parametrize(
    ("user", "got"),
    [
        (5, "got int 5"),
        ("alice", "got str 'alice'"),
        (uuid.UUID(int=1), "got UUID"),
        (Group(pk=1, name="g"), "got an instance of auth.Group"),
        (Movie(pk=1, title="m"), "got an instance of catalog.Movie"),
    ],
)
def test_anything_else_is_a_type_error(user: Any, got: str) -> None:
    # Not the anonymous feed: a user id passed by mistake used to get just that.
    with pytest.raises(TypeError) as raised:
        checked_user(user)
    message = str(raised.value)
    assert message.startswith("user must be an instance of auth.User, None or AnonymousUser")
    assert got in message


def test_an_unsaved_user_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"user is an unsaved auth\.User: save it first"):
        checked_user(User(username="new"))


@pytest.mark.parametrize("argument", ["queryset", "excluded_queryset"])
def test_querysets_of_the_content_model_pass(argument: str, movie_proxy: type[Movie]) -> None:
    movies = Movie.objects.filter(title="x")
    assert checked_items(MovieFeed, movies, argument) is movies
    assert checked_items(MovieFeed, None, argument) is None
    # A manager is its all(); a proxy model reads the same table with the same keys.
    assert checked_items(MovieFeed, Movie.objects, argument).model is Movie  # type: ignore[union-attr]
    assert checked_items(MovieFeed, movie_proxy.objects.all(), argument) is not None
    assert checked_items(MovieFeed, movies.values("pk"), argument) is not None


@pytest.mark.parametrize("argument", ["queryset", "excluded_queryset"])
@pytest.mark.parametrize(
    "items",
    [Movie.likes.through.objects.all(), Article.objects.all(), User.objects.all()],
    ids=["likes", "article", "user"],
)
def test_querysets_of_another_model_name_both_models(items: Any, argument: str) -> None:
    with pytest.raises(ValueError) as raised:
        checked_items(MovieFeed, items, argument)
    message = str(raised.value)
    assert message.startswith(f"{argument} is a QuerySet of {items.model._meta.label}, ")
    assert "but feed MovieFeed ranks catalog.Movie" in message


@pytest.mark.parametrize("argument", ["queryset", "excluded_queryset"])
@pytest.mark.parametrize("items", [[1, 2], (Movie(pk=1),), {1}, 5, "1,2"])
def test_what_is_not_a_queryset_is_a_type_error(items: Any, argument: str) -> None:
    with pytest.raises(TypeError, match=f"{argument} must be a QuerySet of catalog.Movie"):
        checked_items(MovieFeed, items, argument)


def test_excluded_queryset_points_keys_at_excluded_ids() -> None:
    with pytest.raises(TypeError, match="pass keys as excluded_ids"):
        checked_items(MovieFeed, [1, 2], "excluded_queryset")


def test_items_to_explain(movie_proxy: type[Movie]) -> None:
    movie = Movie(pk=3, title="m")
    assert checked_item(MovieFeed, movie) is movie
    assert checked_item(MovieFeed, movie_proxy(pk=3)) is not None
    # Keys are converted as the key field converts them.
    assert checked_item(MovieFeed, 3) == 3
    assert checked_item(MovieFeed, "3") == 3


@pytest.mark.parametrize(
    "item", [Article(pk=1), Reaction(pk=1), User(pk=1)], ids=["article", "reaction", "user"]
)
def test_an_instance_of_another_model_is_a_type_error(item: Any) -> None:
    with pytest.raises(TypeError) as raised:
        checked_item(MovieFeed, item)
    assert str(raised.value).startswith(f"item is an instance of {item._meta.label}, ")
    assert "feed MovieFeed ranks catalog.Movie" in str(raised.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("abc", "item 'abc' cannot be a key of catalog.Movie (its key is a BigAutoField)"),
        ("1.5", "item '1.5' cannot be a key of catalog.Movie"),
        (uuid.UUID(int=1), "item must be a catalog.Movie or its key, got UUID"),
        (None, "item must be a catalog.Movie or its key, got None"),
        (True, "item must be a catalog.Movie or its key, got True"),
        (1.5, "item must be a catalog.Movie or its key, got 1.5"),
        ([1], "item must be a catalog.Movie or its key, got [1]"),
        (Movie(title="unsaved"), "item is an unsaved catalog.Movie"),
    ],
)
def test_what_cannot_be_a_key_is_a_value_error(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        checked_item(MovieFeed, item)


def test_keys_of_a_uuid_keyed_model() -> None:
    from django.db import models
    from django.test.utils import isolate_apps

    from dnf_django.feeds import BaseNeuralFeed

    with isolate_apps("tests.feedapp"):

        class Post(models.Model):
            id = models.UUIDField(primary_key=True, default=uuid.uuid4)

            class Meta:
                app_label = "feedapp"

    feed = type("PostFeed", (BaseNeuralFeed,), {"content_django_model": Post})
    key = uuid.uuid4()
    assert checked_item(feed, key) == key and checked_item(feed, str(key)) == key
    # An integer would be read as the UUID with that number: not a key anyone wrote.
    with pytest.raises(ValueError, match=r"item must be a feedapp\.Post or its key, got 5"):
        checked_item(feed, 5)
    with pytest.raises(ValueError, match=r"item 'nope' cannot be a key of feedapp\.Post"):
        checked_item(feed, "nope")
