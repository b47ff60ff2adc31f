"""A brand-new item nobody has interacted with still reaches the feeds it fits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.models import FactorState, UserFeedProfile
from tests.conftest import wait_until
from tests.integration.test_pipeline import all_embedded

pytestmark = pytest.mark.services

TOPICS = ("space ship galaxy", "love paris romance", "crime heist police", "jazz music band")


def test_a_new_item_close_to_a_users_likes_enters_their_top_20_with_no_interactions(
    hashing_encoder: None, start_worker: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "0")
    start_worker()
    month_ago = timezone.now() - timedelta(days=30)
    movies = Movie.objects.bulk_create(
        Movie(title=f"{TOPICS[i % 4]} part {i}", published_at=month_ago) for i in range(120)
    )
    by_topic = [movies[t::4] for t in range(4)]
    # A crowd makes the other topics popular and co-liked: the collaborative and
    # popularity signals all point away from what the newcomer below likes.
    for i in range(30):
        User.objects.create(username=f"crowd{i}").liked_movies.add(
            *by_topic[1 + i % 3][: 12 + i % 5]
        )
    fan = User.objects.create(username="fan")
    liked = by_topic[0][:5]
    fan.liked_movies.add(*liked)
    wait_until(all_embedded, what="every movie embedded")
    wait_until(
        lambda: (
            FactorState.objects.filter(
                feed_id="movies", built_at__isnull=False, scheduled_for__isnull=True
            ).exists()
            and UserFeedProfile.objects.get(user=fan, feed_id="movies").collaborative is not None
        ),
        what="collaborative vectors learned",
    )

    newcomer = Movie.objects.create(title="space ship galaxy sequel")
    wait_until(
        lambda: Movie.objects.get(pk=newcomer.pk).embedding is not None, what="newcomer embedded"
    )
    shown = MovieFeed.get_feed(
        fan, limit=20, excluded_queryset=Movie.objects.filter(pk__in=[m.pk for m in liked])
    )
    ranked = {movie.pk: movie for movie in shown}
    assert newcomer.pk in ranked, "a new item the fan's likes describe must reach the top 20"
    item = ranked[newcomer.pk]
    assert item.popularity == 0.0 and item.collaborative == 0.0
    assert item.similarity > 0.3  # carried by its text (and its freshness)
