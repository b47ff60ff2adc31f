"""Dislikes alone make a profile, through the whole pipeline (real relay and workers)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from dnf_django.models import UserFeedProfile
from tests.conftest import wait_until
from tests.feedapp.feeds import ReactionFeed
from tests.feedapp.models import Article, Reaction

pytestmark = pytest.mark.services

TOPICS = ("rust borrow checker", "garden tomato harvest", "ocean sailing regatta")


def test_a_user_who_only_dislikes_gets_a_profile_that_ranks_that_topic_last(
    hashing_encoder: None, start_worker: Callable[..., object]
) -> None:
    start_worker()
    # Same age and no likes anywhere: freshness and popularity tell no item apart, so
    # the order is the profile's alone.
    published = timezone.now()
    articles = Article.objects.bulk_create(
        [
            Article(headline=f"{topic} {i}", published_at=published)
            for topic in TOPICS
            for i in range(4)
        ]
    )
    disliked_topic = {a.pk for a in articles[:4]}
    user = User.objects.create(username="grumpy")
    for article in articles[:2]:
        Reaction.objects.create(user=user, article=article, value=-1)

    def profile() -> UserFeedProfile | None:
        embedded = not Article.objects.filter(embedding__isnull=True).exists()
        found = UserFeedProfile.objects.filter(user=user, feed_id="reactions").first()
        return found if embedded else None

    found = wait_until(profile, what="every article embedded and a profile from dislikes alone")
    # The normalized negative of the dislikes' mean.
    disliked = [
        np.asarray(a.embedding, dtype=np.float64)
        for a in Article.objects.filter(pk__in=[a.pk for a in articles[:2]])
    ]
    mean = np.mean(disliked, axis=0)
    np.testing.assert_allclose(found.embedding, -mean / np.linalg.norm(mean), atol=1e-5)

    feed = list(ReactionFeed.get_feed(user, limit=len(articles)))
    assert len(feed) == len(articles)
    assert {a.pk for a in feed[-4:]} == disliked_topic
    assert all(a.similarity < 0 for a in feed[-4:])
    assert min(a.similarity for a in feed[:-4]) > max(a.similarity for a in feed[-4:])
