"""exclude_interacted: items the user already liked, disliked or otherwise interacted
with are left out by the feed query itself, within every candidate pool, in both
interaction modes (profiles, counts and vectors written directly)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.checks import Error
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_core.errors import ConfigurationError
from dnf_django.checks import check_feeds, check_settings
from dnf_django.feeds import BaseNeuralFeed
from dnf_django.models import FeedItemStat, ItemFactor, UserFeedProfile
from tests.feedapp.feeds import ReactionFeed, SavedArticleFeed
from tests.feedapp.models import Article, Reaction
from workers.actors.rank import write_ranks

pytestmark = pytest.mark.services

# Every signal weighs, so every pool has something to rank by.
WEIGHTS = {
    "WEIGHT_SIMILARITY": 0.4,
    "WEIGHT_COLLABORATIVE": 0.3,
    "WEIGHT_FRESHNESS": 0.15,
    "WEIGHT_POPULARITY": 0.15,
}
POOLS = ("CANDIDATES_SIMILARITY", "CANDIDATES_COLLABORATIVE")
POOLS += ("CANDIDATES_FRESHNESS", "CANDIDATES_POPULARITY")
LIMIT = 4


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


def react(user: User, items: list[Any]) -> None:
    """Model mode: a like, a dislike and a neutral row all count as interactions."""
    for i, item in enumerate(items):
        Reaction.objects.create(user=user, article=item, value=(1, -1, 0)[i % 3])


@dataclass(frozen=True)
class Case:
    feed: type[BaseNeuralFeed]
    make: Callable[[str, datetime], models.Model]
    interact: Callable[[User, list[Any]], None]


CASES = {
    "model-reactions": Case(
        ReactionFeed, lambda title, at: Article(headline=title, published_at=at), react
    ),
    "m2m-saved-articles": Case(
        SavedArticleFeed,
        lambda title, at: Article(headline=title, published_at=at),
        lambda user, items: user.saved_articles.add(*items),
    ),
    "m2m-movies": Case(
        MovieFeed,
        lambda title, at: Movie(title=title, published_at=at),
        lambda user, items: user.liked_movies.add(*items),
    ),
}


@dataclass
class World:
    case: Case
    user: User
    interacted: list[Any]
    others: list[Any]

    def keys(self, items: Any) -> list[Any]:
        return [item.pk for item in items]


def factor(*hot: int) -> list[float]:
    unit = np.zeros(256)
    for index in hot:
        unit[index] = 1.0
    return list(unit / np.linalg.norm(unit))


@pytest.fixture(params=sorted(CASES))
def world(request: pytest.FixtureRequest, db: None, settings: Any) -> World:
    """Eight items that lead every signal, all interacted with, and eight that trail."""
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, **WEIGHTS}
    case = CASES[request.param]
    spec = case.feed.get_spec()
    now = timezone.now()
    leading = [case.make(f"space ship {i}", now - timedelta(hours=i)) for i in range(8)]
    trailing = [case.make(f"garden {i}", now - timedelta(days=30 + i)) for i in range(8)]
    items = leading + trailing
    for item in items:
        item.embedding = vector(item.headline if isinstance(item, Article) else item.title)  # type: ignore[attr-defined]
    type(items[0]).objects.bulk_create(items)
    FeedItemStat.objects.bulk_create(
        FeedItemStat(feed_id=spec.feed_id, item_key=str(item.pk), interactions=n, updated_at=now)
        for item, n in zip(items, [*range(100, 92, -1), *range(8, 0, -1)], strict=True)
    )
    # Co-liked with what the user likes: the leaders fully, the rest in part.
    ItemFactor.objects.bulk_create(
        ItemFactor(feed_id=spec.feed_id, item_key=str(item.pk), factor=factor(0, *extra))
        for item, extra in zip(items, [()] * 8 + [(i + 1,) for i in range(8)], strict=True)
    )
    write_ranks(connection.connection, spec, [str(item.pk) for item in items])
    user = User.objects.create(username="reader")
    UserFeedProfile.objects.create(
        user=user, feed_id=spec.feed_id, embedding=vector("space ship"), collaborative=factor(0)
    )
    case.interact(user, leading)
    return World(case, user, leading, trailing)


def excluding(settings: Any, value: Any = True, **pools: int) -> None:
    settings.DJANGO_NEURAL_FEED = {
        **settings.DJANGO_NEURAL_FEED,
        "EXCLUDE_INTERACTED": value,
        **pools,
    }


@pytest.mark.parametrize("pool", [*POOLS, None])
def test_each_candidate_pool_skips_interacted_items_and_still_fills(
    world: World, settings: Any, pool: str | None
) -> None:
    # One pool at a time, as small as the page (None: no pool, the bounded fallback):
    # the page fills only if that pool itself skips the interacted items.
    only = {name: LIMIT if name == pool else 0 for name in POOLS}
    feed = world.case.feed
    excluding(settings, False, **only)
    shown = world.keys(feed.get_feed(world.user, limit=LIMIT))
    assert set(shown) <= set(world.keys(world.interacted))  # what there is to leave out
    explicit = world.keys(
        feed.get_feed(world.user, limit=LIMIT, excluded_ids=world.keys(world.interacted))
    )
    excluding(settings, True, **only)
    left = world.keys(feed.get_feed(world.user, limit=LIMIT))
    assert len(left) == LIMIT
    assert set(left) <= set(world.keys(world.others))
    # The anti-join ranks exactly as excluding those keys by hand does.
    assert left == explicit


def test_a_chain_of_pages_never_shows_an_interacted_item(world: World, settings: Any) -> None:
    excluding(settings)
    shown: list[Any] = []
    cursor = None
    while True:
        page = world.case.feed.get_page(world.user, cursor=cursor, limit=3)
        shown += world.keys(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(shown) == sorted(world.keys(world.others))
    first = world.case.feed.get_page(world.user, limit=3).items
    assert set(world.keys(first)) <= set(world.keys(world.others))


def test_it_is_off_by_default_and_for_users_not_signed_in(world: World, settings: Any) -> None:
    feed = world.case.feed
    interacted = set(world.keys(world.interacted))
    assert set(world.keys(feed.get_feed(world.user, limit=LIMIT))) <= interacted
    assert set(world.keys(feed.get_page(world.user, limit=LIMIT).items)) <= interacted
    excluding(settings)
    for nobody in (None, AnonymousUser()):
        # Nothing to exclude: the leaders (freshest and most popular) are still shown.
        assert set(world.keys(feed.get_feed(nobody, limit=LIMIT))) <= interacted
        assert set(world.keys(feed.get_page(nobody, limit=LIMIT).items)) <= interacted


def test_the_feed_attribute_wins_over_the_setting(world: World, settings: Any) -> None:
    excluding(settings, False)
    shows = type("Excluding", (world.case.feed,), {"exclude_interacted": True})
    assert set(world.keys(shows.get_feed(world.user, limit=LIMIT))) <= set(world.keys(world.others))
    excluding(settings, True)
    keeps = type("Keeping", (world.case.feed,), {"exclude_interacted": False})
    assert set(world.keys(keeps.get_feed(world.user, limit=LIMIT))) <= set(
        world.keys(world.interacted)
    )


def test_excluding_is_lazy_and_costs_one_query(world: World, settings: Any) -> None:
    excluding(settings)
    spec = world.case.feed.get_spec()
    with CaptureQueriesContext(connection) as captured:
        feed = world.case.feed.get_feed(world.user, limit=LIMIT)
        assert len(captured) == 0
        assert len(list(feed)) == LIMIT
        list(feed)  # evaluated once, then cached
    (query,) = (q["sql"] for q in captured)
    assert "NOT EXISTS" in query and f'"{spec.interaction_table}"' in query
    assert "dnf_user_profile" in query and "hnsw.ef_search" in query


def test_a_value_that_is_not_a_bool_is_an_error_not_a_guess(db: None, settings: Any) -> None:
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "EXCLUDE_INTERACTED": "False"}
    user = User.objects.create(username="reader")
    with pytest.raises(ConfigurationError, match="exclude_interacted must be True or False"):
        MovieFeed.get_feed(user)
    assert [m.id for m in check_settings()] == ["dnf_django.E004"]
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, "EXCLUDE_INTERACTED": False}
    settings.DJANGO_NEURAL_FEED["FEEDS"] = ["tests.integration.test_exclude_interacted.Wrong"]
    errors = [m for m in check_feeds() if isinstance(m, Error)]
    assert [(m.id, m.obj) for m in errors] == [("dnf_django.E001", Wrong)]
    assert "exclude_interacted must be True or False" in errors[0].msg


class Wrong(MovieFeed):
    """A feed whose exclude_interacted is a truthy string: the checks must refuse it."""

    exclude_interacted = "no"  # type: ignore[assignment]
