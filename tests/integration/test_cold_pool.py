"""Users without a profile get the true top of freshness and popularity, even when it
lies in neither the freshest nor the most popular items (the feed's GiST pool)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from tests.conftest import wait_until

pytestmark = pytest.mark.services

ITEMS = 60


def test_the_cold_top_is_exact_where_freshest_and_popular_pools_miss_it(
    hashing_encoder: None, start_worker: Callable[..., object], settings: object
) -> None:
    start_worker()
    now = timezone.now()
    # Age grows with the index and so do likes: the freshest items have almost no
    # likes, the most liked are old, and the best mix of both lies in between.
    movies = Movie.objects.bulk_create(
        Movie(title=f"film {i}", published_at=now - timedelta(hours=12 * i)) for i in range(ITEMS)
    )
    likes = [min(i, 30) for i in range(ITEMS)]
    for u in range(30):
        User.objects.create(username=f"fan{u}").liked_movies.add(
            *[m for m, n in zip(movies, likes, strict=True) if n > u]
        )

    def counted() -> bool:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM dnf_item_rank r"
                " JOIN dnf_item_stat s USING (feed_id, item_key)"
                " WHERE r.feed_id = 'movies' AND s.interactions > 0 AND r.pop > 0"
            )
            return cur.fetchone()[0] == ITEMS - 1

    wait_until(counted, what="rank coordinates of every liked movie")

    w_f, w_p = MovieFeed.get_setting("weight_freshness"), MovieFeed.get_setting("weight_popularity")
    half_life_s = MovieFeed.get_setting("freshness_half_life_hours") * 3600

    def score(i: int) -> float:
        fresh = 0.5 ** ((now - movies[i].published_at).total_seconds() / half_life_s)
        return w_f * fresh + w_p * math.log1p(likes[i]) / math.log1p(max(likes))

    limit = 8
    truth = sorted(range(ITEMS), key=lambda i: (-score(i), -movies[i].pk))[:limit]
    # The data discriminates: the true top is not what the freshest and the most
    # popular `limit` items hold.
    freshest = set(range(limit))
    popular = set(sorted(range(ITEMS), key=lambda i: -likes[i])[:limit])
    assert not set(truth) <= freshest | popular

    # Pools of `limit` each (no rank search): only the cold pool can find the top.
    settings.DJANGO_NEURAL_FEED = {  # type: ignore[attr-defined]
        **settings.DJANGO_NEURAL_FEED,  # type: ignore[attr-defined]
        "CANDIDATES_SIMILARITY": 0,
        "CANDIDATES_FRESHNESS": limit,
        "CANDIDATES_POPULARITY": limit,
    }
    expected = [movies[i].pk for i in truth]
    newcomer = User.objects.create(username="newcomer")

    def shown(user: object) -> list[int]:
        return [m.pk for m in MovieFeed.get_feed(user, limit=limit, now=now)]

    # The counts settle as the workers catch up; then every kind of cold user gets it.
    wait_until(lambda: shown(None) == expected, what="the exact cold top")
    for user in (None, AnonymousUser(), newcomer):
        assert shown(user) == expected
