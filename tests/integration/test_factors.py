"""Collaborative vectors learned by real workers from likes that flow through the triggers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.models import FactorState, ItemFactor, UserFeedProfile
from tests.conftest import wait_until
from tests.integration.test_pipeline import all_embedded

pytestmark = pytest.mark.services


def test_likes_teach_items_who_else_liked_them(
    hashing_encoder: None,
    start_worker: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    monkeypatch.setenv("DNF_FACTORS_DELAY_S", "0.2")
    monkeypatch.setenv("DNF_FACTORS_INTERVAL_S", "0")
    start_worker()
    # Unrelated titles: text says nothing about which movies go together, likes do.
    movies = Movie.objects.bulk_create([Movie(title=f"title {i} word{i}") for i in range(12)])
    camp_a, camp_b = movies[:6], movies[6:]
    users = [User.objects.create(username=f"u{i}") for i in range(8)]
    for user in users[:4]:
        user.liked_movies.add(*camp_a)
    for user in users[4:7]:
        user.liked_movies.add(*camp_b)
    # The newcomer has liked two of camp A only.
    users[7].liked_movies.add(*camp_a[:2])
    wait_until(all_embedded, what="every movie embedded")

    def learned() -> bool:
        state = FactorState.objects.filter(feed_id="movies").first()
        profile = UserFeedProfile.objects.filter(user=users[7], feed_id="movies").first()
        return bool(
            state is not None
            and state.built_at is not None
            and state.interactions == 4 * 6 + 3 * 6 + 2
            and ItemFactor.objects.filter(feed_id="movies").count() == 12
            and profile is not None
            and profile.collaborative is not None
        )

    wait_until(learned, what="collaborative vectors from every like, and profiles with them")

    # Two like patterns: the factorization is exact, so inner products are the cosine
    # of co-likes (1 within a camp, 0 across).
    keys = [str(m.pk) for m in movies]
    factors = {
        f.item_key: np.asarray(f.factor) for f in ItemFactor.objects.filter(feed_id="movies")
    }
    gram = np.array([[factors[a] @ factors[b] for b in keys] for a in keys])
    likes = np.array([[m in liked for m in movies] for liked in ([*camp_a], [*camp_b])], float)
    counts = np.array([4 + (m in camp_a[:2]) for m in camp_a] + [3] * 6, float)
    weights = np.array([[4, 0], [0, 3]], float)  # users per pattern, newcomer aside
    matrix = np.repeat(likes, [4, 3], axis=0)
    matrix = np.vstack([matrix, [[m in camp_a[:2] for m in movies]]])
    cosine = (matrix.T @ matrix) / np.sqrt(np.outer(counts, counts))
    assert weights.sum() == 7
    assert np.allclose(gram, cosine / cosine.diagonal().max(), atol=1e-4)

    # The profile's collaborative part: normalized mean of the liked items' vectors.
    profile = UserFeedProfile.objects.get(user=users[7], feed_id="movies")
    mean = np.mean([factors[str(m.pk)] for m in camp_a[:2]], axis=0)
    assert np.allclose(profile.collaborative, mean / np.linalg.norm(mean), atol=1e-5)

    # Ranked on that signal alone, the newcomer is offered the rest of camp A first.
    only_collaborative = {
        **settings.DJANGO_NEURAL_FEED,  # type: ignore[attr-defined]
        "WEIGHT_SIMILARITY": 0.0,
        "WEIGHT_FRESHNESS": 0.0,
        "WEIGHT_POPULARITY": 0.0,
        "WEIGHT_COLLABORATIVE": 1.0,
    }
    with override_settings(DJANGO_NEURAL_FEED=only_collaborative):
        feed = list(
            MovieFeed.get_feed(
                users[7],
                limit=4,
                excluded_queryset=Movie.objects.filter(pk__in=[m.pk for m in camp_a[:2]]),
            )
        )
        explained = MovieFeed.explain(users[7], feed[0])
    assert {m.pk for m in feed} == {m.pk for m in camp_a[2:]}
    assert all(m.collaborative > 0.5 for m in feed)
    assert explained.contributions["collaborative"] == pytest.approx(feed[0].score)
