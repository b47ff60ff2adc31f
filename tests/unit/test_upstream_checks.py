"""The system check that turns 1.x's get_ready_text() into the text_fields to declare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import models
from django.test.utils import isolate_apps

from catalog.models import Movie
from dnf_django import checks
from dnf_django.feeds import BaseNeuralFeed
from dnf_django.mixins import NeuralRecommendMixin


@pytest.fixture
def post_model() -> Iterator[type[models.Model]]:
    """A 1.x content model, as its README declared it, in an app registry of its own."""
    with isolate_apps("tests.feedapp"):

        class Category(models.Model):
            name = models.CharField(max_length=50)

            class Meta:
                app_label = "feedapp"

        class Post(NeuralRecommendMixin, models.Model):
            slug = models.SlugField()
            title = models.CharField(max_length=255)
            content = models.TextField()
            category = models.ForeignKey(Category, on_delete=models.CASCADE)
            created_at = models.DateTimeField(auto_now_add=True)

            class Meta:
                app_label = "feedapp"

            def get_ready_text(self) -> str:
                return f"{self.title} {self.content} {self.category.name}"

        yield Post


def feed_over(model: type[models.Model], **attributes: Any) -> type[BaseNeuralFeed]:
    return type(
        "PostFeed",
        (BaseNeuralFeed,),
        {
            "feed_id": "posts_main",
            "content_django_model": model,
            "interaction_django_model": Movie.likes.through,
            "mode": "m2m",
            **attributes,
        },
    )


def run_feed_checks(monkeypatch: pytest.MonkeyPatch, *feeds: type[BaseNeuralFeed]) -> list[Any]:
    monkeypatch.setattr(checks, "registered_feeds", lambda: list(feeds))
    return checks.check_feeds()


def test_get_ready_text_without_text_fields_names_the_fields_to_declare(
    post_model: type[models.Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feed_over(post_model)
    (error,) = run_feed_checks(monkeypatch, feed)
    assert error.id == "dnf_django.E005" and error.obj is feed
    assert "PostFeed" in error.msg and "get_ready_text()" in error.msg
    # The text-like fields of the model, not the slug, the key or the mixin's hash.
    assert "add to PostFeed: text_fields = ('title', 'content')" in error.hint
    assert "category__name" in error.hint and "denormalize" in error.hint


def test_declared_text_fields_silence_it(
    post_model: type[models.Model], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Also when inherited from a parent feed. (The borrowed interaction model does not
    # point at the isolated Post, which other errors report; none is about the text.)
    parent = feed_over(post_model, text_fields=("title", "content"))
    child = type("ChildFeed", (BaseNeuralFeed,), {"feed_id": "child", "parent_feed": parent})
    messages = run_feed_checks(monkeypatch, parent, child)
    assert {m.obj for m in messages} == {parent, child}
    assert all(m.id == "dnf_django.E001" and "foreign key" in m.msg for m in messages), messages


def test_a_model_without_text_like_fields_gets_a_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with isolate_apps("tests.feedapp"):

        class Scores(NeuralRecommendMixin, models.Model):
            value = models.IntegerField()

            class Meta:
                app_label = "feedapp"

            def get_ready_text(self) -> str:
                return str(self.value)

    (error,) = run_feed_checks(monkeypatch, feed_over(Scores))
    assert error.id == "dnf_django.E005"
    assert 'text_fields = ("...",)' in error.hint
