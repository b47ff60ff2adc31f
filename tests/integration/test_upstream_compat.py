"""What a django-neural-feed 1.x project relies on keeps working, against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from catalog.models import Movie
from dnf_core.encoders import HashingEncoder
from dnf_django.models import FeedItemStat, UserFeedProfile

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("upstream_weights")]


def vector(text: str) -> list[float]:
    return HashingEncoder.text_to_vector(text, "hashing-384")


@pytest.fixture
def movies(db: None) -> dict[str, Movie]:
    now = timezone.now()
    movies = {
        "space": Movie(title="space ships", published_at=now - timedelta(days=30)),
        "love": Movie(title="love in paris", published_at=now),
        "old": Movie(title="archive", published_at=now - timedelta(days=300)),
    }
    for movie in movies.values():
        movie.embedding = vector(movie.title)
    Movie.objects.bulk_create(movies.values())
    FeedItemStat.objects.create(
        feed_id="movies", item_key=str(movies["old"].pk), interactions=9, updated_at=now
    )
    return movies


def with_profile(text: str, feed_id: str = "movies", name: str = "reader") -> User:
    user = User.objects.create(username=name)
    UserFeedProfile.objects.create(user=user, feed_id=feed_id, embedding=vector(text))
    return user


def test_profiles_can_be_made_through_the_orm_and_read_as_upstream_printed_them(
    db: None,
) -> None:
    user = User.objects.create(username="ada")
    before = timezone.now()
    profile = UserFeedProfile.objects.create(user=user, feed_id="movies", embedding=vector("x"))
    profile.refresh_from_db()
    assert before <= profile.updated_at <= timezone.now()
    assert str(profile) == "ada - movies"
