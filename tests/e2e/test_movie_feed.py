"""End to end with the real all-MiniLM-L6-v2 model: writes in, ranked feed out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from django.contrib.auth.models import User

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.models import UserFeedProfile
from tests.conftest import wait_until

pytestmark = [pytest.mark.services, pytest.mark.e2e]

SPACE_ORM = [
    "Astronauts repair a damaged space station in low Earth orbit",
    "A crewed rocket launch to Mars and the long voyage between planets",
    "Black holes, neutron stars and the birth of distant galaxies",
]
SPACE_SQL = [
    "The Apollo moon landing and the astronauts who walked on the lunar surface",
    "A space telescope discovers exoplanets orbiting a faraway star",
]
COOKING_ORM = [
    "Baking sourdough bread at home with a wild yeast starter",
    "Italian pasta recipes with fresh tomato sauce and basil",
]
COOKING_SQL = [
    "Chocolate cake, pastry cream and other French desserts",
    "Grilling vegetables and marinated steak on a summer barbecue",
]


def test_feed_of_a_user_who_likes_space(
    clean_pipeline: str, start_worker: Callable[..., object]
) -> None:
    start_worker()
    orm = [Movie.objects.create(title=t) for t in SPACE_ORM + COOKING_ORM]
    with psycopg.connect(clean_pipeline) as other:  # a writer that is not Django
        rows = other.execute(
            "INSERT INTO catalog_movie (title, published_at) "
            "SELECT t, now() FROM unnest(%s::text[]) AS t RETURNING id",
            [SPACE_SQL + COOKING_SQL],
        ).fetchall()
    raw = list(Movie.objects.filter(pk__in=[r[0] for r in rows]).order_by("pk"))
    space = orm[:3] + raw[:2]
    liked = space[:3]
    user = User.objects.create(username="astronomer")
    user.liked_movies.add(*liked)

    def profile() -> UserFeedProfile | None:
        if Movie.objects.filter(embedding__isnull=True).exists():
            return None
        return UserFeedProfile.objects.filter(user=user, feed_id="movies").first()

    stored = wait_until(profile, what="every item embedded and the profile built")
    embeddings = np.array([Movie.objects.get(pk=m.pk).embedding for m in liked], dtype=np.float64)
    mean = embeddings.mean(axis=0)

    def profile_matches() -> bool:
        stored.refresh_from_db()
        return bool(np.allclose(stored.embedding, mean / np.linalg.norm(mean), atol=1e-5))

    # Likes may land before or after their items are embedded; the final profile must
    # be exactly the normalized mean of all three.
    wait_until(profile_matches, what="profile equal to the normalized mean of the 3 likes")

    feed = list(MovieFeed.get_feed(user, excluded_queryset=user.liked_movies.all(), limit=6))
    unliked_space = {m.pk for m in space[3:]}
    assert {m.pk for m in feed[: len(unliked_space)]} == unliked_space
    assert feed[0].similarity > max(m.similarity for m in feed[len(unliked_space) :])
