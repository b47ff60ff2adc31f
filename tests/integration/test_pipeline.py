"""The whole pipeline in real worker processes (relay + Dramatiq on Redis), fast encoder."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User

from catalog.models import Movie
from dnf_django.models import FeedItemStat, UserFeedProfile
from tests.conftest import wait_until

pytestmark = pytest.mark.services


def all_embedded() -> bool:
    return not Movie.objects.filter(embedding__isnull=True).exists()


def test_writes_flow_through_to_vectors_profiles_and_counts(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    users = [User.objects.create(username=f"u{i}") for i in range(3)]
    movies = Movie.objects.bulk_create([Movie(title=f"film {i} topic{i % 3}") for i in range(40)])
    for user in users:
        user.liked_movies.add(*movies[:5])
    wait_until(all_embedded, what="every movie embedded")
    wait_until(
        lambda: UserFeedProfile.objects.filter(feed_id="movies").count() == 3, what="3 profiles"
    )
    wait_until(
        lambda: FeedItemStat.objects.filter(interactions=3).count() == 5, what="popularity counts"
    )

    # An edit re-embeds; an unlike moves the profile; both through the same pipeline.
    Movie.objects.filter(pk=movies[0].pk).update(title="completely different words")
    users[0].liked_movies.remove(*movies[1:5])
    target = None

    def settled() -> bool:
        nonlocal target
        movie = Movie.objects.get(pk=movies[0].pk)
        profile = UserFeedProfile.objects.get(user=users[0], feed_id="movies").embedding
        vector = np.asarray(movie.embedding)
        target = vector / np.linalg.norm(vector)
        return bool(np.allclose(profile, target, atol=1e-5))

    wait_until(settled, what="profile following the edit and the unlikes")
