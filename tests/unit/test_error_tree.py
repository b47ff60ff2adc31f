"""One error tree: every error of the public API is a NeuralFeedError, from dnf_django."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User

import dnf_core.errors
import dnf_django
from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.diversity import mmr_order
from dnf_django.arguments import checked_item, checked_items, checked_user, missing_item
from dnf_django.query import check_limit, clock
from dnf_django.status import pipeline_status
from tests.feedapp.models import Reaction
from workers.backfill import backfill
from workers.reembed import queue_missing

ERRORS = [
    value
    for value in vars(dnf_core.errors).values()
    if inspect.isclass(value) and issubclass(value, Exception)
]


def test_every_error_class_is_importable_from_dnf_django_under_the_root() -> None:
    assert len(ERRORS) > 10
    for error in ERRORS:
        assert error.__name__ in dnf_django.__all__
        assert getattr(dnf_django, error.__name__) is error
        assert issubclass(error, dnf_django.NeuralFeedError)


def test_errors_keep_the_builtin_classes_callers_catch() -> None:
    assert issubclass(dnf_django.InvalidCursor, ValueError)
    assert issubclass(dnf_django.InvalidCursor, dnf_django.InvalidArgument)
    assert issubclass(dnf_django.InvalidArgument, ValueError)
    assert issubclass(dnf_django.InvalidArgumentType, TypeError)
    assert issubclass(dnf_django.UnknownFeedAttribute, AttributeError)
    assert issubclass(dnf_django.BrokerError, dnf_django.ServiceError)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: checked_user(5), dnf_django.InvalidArgumentType),
        (lambda: checked_user(User(username="unsaved")), dnf_django.InvalidArgument),
        (lambda: checked_items(MovieFeed, [1, 2], "queryset"), dnf_django.InvalidArgumentType),
        (
            lambda: checked_items(MovieFeed, Reaction.objects.all(), "queryset"),
            dnf_django.InvalidArgument,
        ),
        (lambda: checked_item(MovieFeed, Reaction(pk=1)), dnf_django.InvalidArgumentType),
        (lambda: checked_item(MovieFeed, "not a key"), dnf_django.InvalidArgument),
        (lambda: checked_item(MovieFeed, 1.5), dnf_django.InvalidArgument),
        (lambda: check_limit(10**9), dnf_django.InvalidArgument),
        (lambda: clock(datetime(2024, 1, 1)), dnf_django.InvalidArgument),  # naive
        (lambda: clock("yesterday"), dnf_django.InvalidArgument),
        (lambda: MovieFeed.get_feed(None, limit=0), dnf_django.InvalidArgument),
        (lambda: MovieFeed.get_feed(None, excluded_ids=5), dnf_django.InvalidArgumentType),
        (lambda: MovieFeed.get_page(None, cursor="forged"), dnf_django.InvalidCursor),
        (lambda: MovieFeed.get_page(None, limit=True), dnf_django.InvalidArgument),
        (lambda: pipeline_status(max_lag_s=0), dnf_django.InvalidArgument),
        (lambda: mmr_order([1.0], [], 0.5, 1), dnf_django.InvalidArgument),
        # The library functions of dnf_backfill and dnf_reembed.
        (lambda: backfill(None, MovieFeed.get_spec(), batch=0), dnf_django.InvalidArgument),
        (lambda: queue_missing(None, MovieFeed.get_spec(), batch=0), dnf_django.InvalidArgument),
    ],
)
def test_entry_points_raise_errors_of_the_tree(call: Any, error: type[Exception]) -> None:
    # None of these reaches the database: arguments are checked where they enter.
    with pytest.raises(error) as raised:
        call()
    assert isinstance(raised.value, dnf_django.NeuralFeedError)


def test_a_missing_item_is_of_the_tree_and_the_models_does_not_exist() -> None:
    error = missing_item(Movie, 42)
    assert isinstance(error, dnf_django.ItemNotFound)
    assert isinstance(error, Movie.DoesNotExist)
    assert not isinstance(error, Reaction.DoesNotExist)
    # One class per model: the class of one request is the next request's.
    assert type(missing_item(Movie, 43)) is type(error)
    assert str(error) == "Movie with key 42 does not exist"
