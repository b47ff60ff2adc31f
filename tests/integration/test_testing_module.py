"""dnf_django.testing as a user's test suite uses it: a like, the pipeline run in-process,
a personalized feed; in a ``TestCase`` (uncommitted transaction), a
``TransactionTestCase`` and through the pytest fixture, without a worker or Redis."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.models import UserFeedProfile
from dnf_django.testing import (
    FeedPipeline,
    NeuralFeedTestMixin,
    run_pipeline,
    settings_encoders,
)
from tests.settings import DJANGO_NEURAL_FEED

pytestmark = pytest.mark.services

# What a project's test settings would say: the fast encoder instead of the model its
# migrations installed.
TEST_FEEDS = {
    **DJANGO_NEURAL_FEED,
    "ENCODER_CLASS": "dnf_core.encoders.HashingEncoder",
    "MODEL_NAME": "hashing-384",
}


def like_space_ships(reader: User) -> tuple[Movie, Movie, Movie]:
    """Three movies, the first liked by ``reader``: the feed should put the other
    space movie above the love story."""
    liked = Movie.objects.create(title="Rockets and space ships")
    love = Movie.objects.create(title="A love story in Paris")
    space = Movie.objects.create(title="Space ships to the moon")
    liked.likes.add(reader)
    return liked, love, space


def assert_personalized(reader: User, love: Movie, space: Movie) -> None:
    assert UserFeedProfile.objects.filter(user=reader, feed_id="movies").exists()
    feed = list(MovieFeed.get_feed(reader, limit=10))
    assert space in feed and love in feed
    assert feed.index(space) < feed.index(love), [(m.title, m.score) for m in feed]
    assert next(m for m in feed if m == space).similarity > 0.3


@override_settings(DJANGO_NEURAL_FEED=TEST_FEEDS)
class TestCaseUse(NeuralFeedTestMixin, TestCase):
    def test_a_like_personalizes_the_feed_inside_the_test_transaction(self) -> None:
        # Django's TestCase never commits: another connection would see none of this.
        self.assertTrue(connection.in_atomic_block)
        reader = User.objects.create(username="reader")
        liked, love, space = like_space_ships(reader)
        self.assertGreater(self.neural_feed.pending(), 0)

        done = self.neural_feed.run()

        self.assertEqual(self.neural_feed.pending(), 0)
        self.assertEqual(done.tasks["embed"], 1)
        self.assertGreaterEqual(done.tasks["profiles"], 1)
        liked.refresh_from_db()
        self.assertIsNotNone(liked.embedding)
        assert_personalized(reader, love, space)

    def test_the_context_manager_runs_the_pipeline_when_the_block_ends(self) -> None:
        reader = User.objects.create(username="reader")
        with FeedPipeline():
            _, love, space = like_space_ships(reader)
            self.assertFalse(UserFeedProfile.objects.filter(user=reader).exists())
        assert_personalized(reader, love, space)

    def test_an_unlike_takes_the_profile_away(self) -> None:
        reader = User.objects.create(username="reader")
        liked, _, _ = like_space_ships(reader)
        run_pipeline()
        liked.likes.remove(reader)
        run_pipeline()
        self.assertFalse(UserFeedProfile.objects.filter(user=reader).exists())


@override_settings(DJANGO_NEURAL_FEED=TEST_FEEDS)
class TransactionTestCaseUse(NeuralFeedTestMixin, TransactionTestCase):
    def test_a_like_personalizes_the_feed_on_committed_data(self) -> None:
        self.assertFalse(connection.in_atomic_block)
        self.neural_feed.run()  # whatever earlier tests' flushes left in the outbox
        reader = User.objects.create(username="reader")
        _, love, space = like_space_ships(reader)
        self.neural_feed.run()
        assert_personalized(reader, love, space)


def test_the_pytest_fixture_personalizes_the_feed(neural_feed: FeedPipeline, settings: Any) -> None:
    settings.DJANGO_NEURAL_FEED = TEST_FEEDS
    reader = User.objects.create(username="reader")
    _, love, space = like_space_ships(reader)
    neural_feed.run()
    assert_personalized(reader, love, space)


def test_feeds_run_with_the_encoder_of_the_current_settings(db: None, settings: Any) -> None:
    # The suite's settings name the model the migrations installed: nothing to replace.
    assert settings_encoders() == {}
    settings.DJANGO_NEURAL_FEED = TEST_FEEDS
    hashing = {"encoder": "dnf_core.encoders.HashingEncoder", "model_name": "hashing-384"}
    assert settings_encoders()["movies"] == hashing
