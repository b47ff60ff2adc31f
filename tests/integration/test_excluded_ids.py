"""``excluded_ids`` of any size and form: one array parameter, checked as keys."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.feeds import MovieFeed
from catalog.models import Movie

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture
def movies() -> list[Movie]:
    return Movie.objects.bulk_create(Movie(title=f"film {i}") for i in range(5))


def shown(**kwargs: object) -> set[int]:
    return {movie.pk for movie in MovieFeed.get_feed(None, limit=20, **kwargs)}


def test_a_large_list_is_one_parameter_and_leaves_the_rest(movies: list[Movie]) -> None:
    keep = movies[0].pk
    excluded = [m.pk for m in movies[1:]] + list(range(10**9, 10**9 + 50_000))
    with CaptureQueriesContext(connection) as queries:
        assert shown(excluded_ids=excluded) == {keep}
    (query,) = queries.captured_queries
    # The keys travel once, as one array literal, not as 50,000 placeholders.
    assert query["sql"].count(str(10**9 + 49_999)) == 1


@pytest.mark.parametrize(
    "form", [list, tuple, set, lambda keys: (k for k in keys), lambda keys: map(str, keys)]
)
def test_any_iterable_of_keys_or_their_text(movies: list[Movie], form: object) -> None:
    assert shown(excluded_ids=form([m.pk for m in movies[:2]])) == {m.pk for m in movies[2:]}  # type: ignore[operator]


def test_a_queryset_stays_a_subquery(movies: list[Movie]) -> None:
    excluded = Movie.objects.filter(pk__in=[m.pk for m in movies[:3]]).values("pk")
    assert shown(excluded_ids=excluded) == {m.pk for m in movies[3:]}


def test_an_empty_list_excludes_nothing(movies: list[Movie]) -> None:
    assert shown(excluded_ids=[]) == {m.pk for m in movies}


@pytest.mark.parametrize(
    ("excluded", "error", "message"),
    [
        (["not a number"], ValueError, "excluded_ids: .* \\(keys of catalog.Movie\\)"),
        ([None], ValueError, "excluded_ids"),
        (5, TypeError, "excluded_ids must be an iterable of keys or a QuerySet, got int"),
        ("12", TypeError, "got str"),
    ],
)
def test_keys_that_cannot_be_keys_are_refused(
    movies: list[Movie], excluded: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        shown(excluded_ids=excluded)


def test_filters_that_match_nothing_give_an_empty_feed(movies: list[Movie]) -> None:
    # Django compiles pk__in=[] to no SQL at all (EmptyResultSet): nothing to rank.
    nothing = Movie.objects.filter(pk__in=[])
    assert list(MovieFeed.get_feed(None, queryset=nothing)) == []
    assert list(MovieFeed.get_feed(None, excluded_queryset=Movie.objects.all())) == []
    page = MovieFeed.get_page(None, queryset=nothing)
    assert list(page.items) == [] and page.next_cursor is None
    assert list(MovieFeed.similar(movies[0], queryset=nothing)) == []
