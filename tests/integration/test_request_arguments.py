"""Every feed entry point refuses arguments of the wrong kind, against the real database.

Each of these used to give a plausible answer: ``user=5`` the anonymous feed, a
queryset of the likes table an empty feed or the rows whose keys happened to match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.utils.functional import SimpleLazyObject

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import UserFeedProfile
from tests.feedapp.feeds import ReactionFeed
from tests.feedapp.models import Article, Reaction

pytestmark = pytest.mark.services


@pytest.fixture
def reader(db: None) -> User:
    movies = [Movie(title=t) for t in ("space", "love", "archive")]
    for movie in movies:
        movie.embedding = HashingEncoder.text_to_vector(movie.title, "hashing-384")
    Movie.objects.bulk_create(movies)
    Article.objects.create(headline="news")
    user = User.objects.create(username="reader")
    UserFeedProfile.objects.create(
        user=user, feed_id="movies", embedding=HashingEncoder.text_to_vector("space", "hashing-384")
    )
    return user


# Each entry point, called with one user and otherwise good arguments.
ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "get_feed": lambda user: MovieFeed.get_feed(user),
    "get_page": lambda user: MovieFeed.get_page(user),
    "explain": lambda user: MovieFeed.explain(user, Movie.objects.first()),
    "get_user_vector": lambda user: MovieFeed.get_user_vector(user),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_user_id_is_a_type_error_not_the_anonymous_feed(reader: User, entry: str) -> None:
    with pytest.raises(TypeError) as raised:
        ENTRY_POINTS[entry](reader.pk)
    assert str(raised.value).startswith(
        f"user must be an instance of auth.User, None or AnonymousUser, got int {reader.pk}"
    )


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_instance_of_another_model_as_user_is_a_type_error(reader: User, entry: str) -> None:
    movie = Movie.objects.first()
    with pytest.raises(TypeError, match=r"got an instance of catalog\.Movie"):
        ENTRY_POINTS[entry](movie)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_unsaved_user_is_a_value_error(reader: User, entry: str) -> None:
    with pytest.raises(ValueError, match=r"user is an unsaved auth\.User"):
        ENTRY_POINTS[entry](User(username="new"))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_users_none_anonymous_and_request_user_are_served(reader: User, entry: str) -> None:
    for user in (None, AnonymousUser(), reader, SimpleLazyObject(lambda: reader)):
        ENTRY_POINTS[entry](user)
    if entry == "get_feed":
        lazy = SimpleLazyObject(lambda: reader)
        assert list(MovieFeed.get_feed(lazy)) == list(MovieFeed.get_feed(reader))
        assert MovieFeed.get_feed(lazy)[0].similarity > 0  # the profile was read


def listed(result: Any) -> list[Any]:
    return list(result.items if hasattr(result, "items") else result)


@pytest.mark.parametrize("argument", ["queryset", "excluded_queryset"])
@pytest.mark.parametrize("entry", ["get_feed", "get_page"])
@pytest.mark.parametrize(
    ("feed", "items", "other", "ranked"),
    [
        (
            MovieFeed,
            lambda: Movie.likes.through.objects.all(),
            "catalog.Movie_likes",
            "catalog.Movie",
        ),
        (MovieFeed, lambda: Article.objects.all(), "feedapp.Article", "catalog.Movie"),
        (ReactionFeed, lambda: Reaction.objects.all(), "feedapp.Reaction", "feedapp.Article"),
        (ReactionFeed, lambda: Movie.objects.all(), "catalog.Movie", "feedapp.Article"),
    ],
    ids=["movie-likes", "movie-articles", "reaction-reactions", "reaction-movies"],
)
def test_a_queryset_of_another_model_names_both(
    reader: User, feed: Any, items: Any, other: str, ranked: str, entry: str, argument: str
) -> None:
    with pytest.raises(ValueError) as raised:
        getattr(feed, entry)(reader, **{argument: items()})
    message = str(raised.value)
    assert message.startswith(f"{argument} is a QuerySet of {other}, ")
    assert f"but feed {feed.__name__} ranks {ranked}" in message


@pytest.mark.parametrize("argument", ["queryset", "excluded_queryset"])
@pytest.mark.parametrize("entry", ["get_feed", "get_page"])
def test_a_list_where_a_queryset_goes_is_a_type_error(
    reader: User, entry: str, argument: str
) -> None:
    movies = list(Movie.objects.all())
    with pytest.raises(TypeError, match=rf"^{argument} must be a QuerySet of catalog\.Movie"):
        getattr(MovieFeed, entry)(reader, **{argument: movies})


@pytest.mark.parametrize("entry", ["get_feed", "get_page"])
def test_querysets_and_managers_of_the_content_model_still_filter(reader: User, entry: str) -> None:
    space = Movie.objects.get(title="space")
    only = listed(getattr(MovieFeed, entry)(reader, queryset=Movie.objects.filter(pk=space.pk)))
    assert only == [space]
    rest = listed(
        getattr(MovieFeed, entry)(
            reader, queryset=Movie.objects, excluded_queryset=Movie.objects.filter(pk=space.pk)
        )
    )
    assert space not in rest and len(rest) == 2


def test_explain_refuses_an_instance_of_another_model(reader: User) -> None:
    article = Article.objects.get()
    with pytest.raises(TypeError) as raised:
        MovieFeed.explain(reader, article)
    assert str(raised.value).startswith("item is an instance of feedapp.Article, ")
    assert "feed MovieFeed ranks catalog.Movie" in str(raised.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("abc", "item 'abc' cannot be a key of catalog.Movie"),
        (None, "item must be a catalog.Movie or its key, got None"),
        (True, "item must be a catalog.Movie or its key, got True"),
        (1.0, "item must be a catalog.Movie or its key, got 1.0"),
    ],
)
def test_explain_refuses_what_cannot_be_a_key(reader: User, item: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        MovieFeed.explain(reader, item)
    assert str(raised.value).startswith(message)


def test_explain_takes_ranked_items_objects_and_keys(reader: User) -> None:
    ranked = MovieFeed.get_feed(reader)[0]
    by_object = MovieFeed.explain(reader, ranked)
    by_key = MovieFeed.explain(reader, str(ranked.pk), now=None)
    assert by_object.item_key == by_key.item_key == ranked.pk
    assert by_key.signals["similarity"] == pytest.approx(by_object.signals["similarity"])
