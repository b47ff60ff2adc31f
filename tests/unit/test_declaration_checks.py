"""Bad declarations and settings: a system check error naming the feed and attribute,
and a ConfigurationError when the feed compiles, so no worker ever gets the spec.

No database: compiling reads only the models, and the checks stop before reading
migrations once a declaration is invalid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps

from catalog.feeds import MovieFeed
from dnf_core.errors import ConfigurationError
from dnf_django import checks
from dnf_django.feeds import BaseNeuralFeed
from dnf_django.mixins import NeuralRecommendMixin

NAN, INF = float("nan"), float("inf")


def feed_errors(monkeypatch: pytest.MonkeyPatch, *feeds: type[BaseNeuralFeed]) -> list[Any]:
    monkeypatch.setattr(checks, "registered_feeds", lambda: list(feeds))
    return [m for m in checks.check_feeds() if m.is_serious()]


def refused(
    monkeypatch: pytest.MonkeyPatch, feed: type[BaseNeuralFeed], message: str
) -> ConfigurationError:
    """``feed`` fails ``check`` with one E001 and its compile with the same message."""
    (error,) = feed_errors(monkeypatch, feed)
    assert error.id == "dnf_django.E001" and error.obj is feed
    assert message in error.msg, error.msg
    with pytest.raises(ConfigurationError) as raised:
        feed.get_spec()
    assert str(raised.value) == error.msg
    return raised.value


@pytest.mark.parametrize(
    "attribute",
    ["weight_similarity", "weight_freshness", "weight_popularity", "weight_collaborative"],
)
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_non_finite_weights(monkeypatch: pytest.MonkeyPatch, attribute: str, value: float) -> None:
    monkeypatch.setattr(MovieFeed, attribute, value)
    refused(monkeypatch, MovieFeed, f"feed MovieFeed: {attribute} must be a finite number")


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("freshness_half_life_hours", NAN, "freshness_half_life_hours must be a finite number > 0"),
        ("freshness_half_life_hours", INF, "freshness_half_life_hours must be a finite number > 0"),
        ("dislike_weight", NAN, "dislike_weight must be a finite number >= 0"),
        ("dislike_weight", INF, "dislike_weight must be a finite number >= 0"),
        ("diversity", 0, "feed MovieFeed: diversity must be None or a number in (0, 1], got 0"),
        ("diversity", 1.5, "feed MovieFeed: diversity must be None or a number in (0, 1]"),
        ("diversity", NAN, "feed MovieFeed: diversity must be None or a number in (0, 1]"),
        ("diversity", "0.5", "feed MovieFeed: diversity must be None or a number in (0, 1]"),
    ],
)
def test_numbers_out_of_range(
    monkeypatch: pytest.MonkeyPatch, attribute: str, value: object, message: str
) -> None:
    monkeypatch.setattr(MovieFeed, attribute, value)
    error = refused(monkeypatch, MovieFeed, message)
    assert "'movies'" in str(error) or "MovieFeed" in str(error)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no_such_module.Encoder", "cannot import encoder class 'no_such_module.Encoder'"),
        ("dnf_core.encoders.NoSuchEncoder", "cannot import encoder class"),
        (
            "dnf_core.spec.FeedSpec",
            "'dnf_core.spec.FeedSpec' is not a subclass of BaseVectorEncoder",
        ),
        (dict, "encoder_class must be the dotted path of a BaseVectorEncoder subclass"),
        (5, "encoder_class must be the dotted path of a BaseVectorEncoder subclass"),
    ],
)
def test_encoders_that_do_not_import(
    monkeypatch: pytest.MonkeyPatch, value: object, message: str
) -> None:
    monkeypatch.setattr(MovieFeed, "encoder_class", value)
    error = refused(monkeypatch, MovieFeed, message)
    assert str(error).startswith("feed MovieFeed: encoder_class")


def test_an_encoder_class_the_worker_cannot_import_by_its_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dnf_core.encoders import HashingEncoder

    class LocalEncoder(HashingEncoder):
        pass

    monkeypatch.setattr(MovieFeed, "encoder_class", LocalEncoder)
    refused(monkeypatch, MovieFeed, "feed MovieFeed: encoder_class: cannot import encoder class")
    # The class itself, importable by its path, is accepted as 1.x accepted it.
    monkeypatch.setattr(MovieFeed, "encoder_class", HashingEncoder)
    assert MovieFeed.get_spec().encoder == "dnf_core.encoders.hashing.HashingEncoder"


@pytest.fixture
def post_model() -> Iterator[type[models.Model]]:
    """A content model with a field of every kind, in an app registry of its own."""
    with isolate_apps("tests.feedapp"):

        class Tag(models.Model):
            name = models.CharField(max_length=50)

            class Meta:
                app_label = "feedapp"

        class Post(NeuralRecommendMixin, models.Model):
            title = models.CharField(max_length=255)
            body = models.TextField()
            slug = models.SlugField()
            contact = models.EmailField()
            link = models.URLField()
            year = models.IntegerField()
            price = models.DecimalField(max_digits=8, decimal_places=2)
            rating = models.FloatField()
            published = models.BooleanField()
            created_at = models.DateTimeField()
            day = models.DateField()
            extra = models.JSONField()
            labels = ArrayField(models.CharField(max_length=20))
            blob = models.BinaryField()
            tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
            tags = models.ManyToManyField(Tag, related_name="posts")
            likes = models.ManyToManyField(User, related_name="liked_posts")

            class Meta:
                app_label = "feedapp"

        class Comment(models.Model):
            post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")

            class Meta:
                app_label = "feedapp"

        yield Post


def post_feed(model: type[models.Model], *text_fields: str) -> type[BaseNeuralFeed]:
    return type(
        "PostFeed",
        (BaseNeuralFeed,),
        {
            "feed_id": "posts",
            "content_django_model": model,
            "interaction_django_model": model.likes.through,  # type: ignore[attr-defined]
            "mode": "m2m",
            "text_fields": text_fields,
        },
    )


def test_text_like_and_integer_fields_are_accepted(post_model: type[models.Model]) -> None:
    spec = post_feed(post_model, "title", "body", "slug", "contact", "link", "year", "price")
    assert spec.get_spec().text_columns == (
        "title",
        "body",
        "slug",
        "contact",
        "link",
        "year",
        "price",
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tag", "text_fields 'tag' is a ForeignKey, a relation: its column holds the key of"),
        ("tags", "text_fields 'tags' is a ManyToManyField, a many-valued relation"),
        ("likes", "text_fields 'likes' is a ManyToManyField, a many-valued relation"),
        ("comments", "text_fields 'comments' is a ManyToOneRel, a many-valued relation"),
        ("extra", "text_fields 'extra' is a JSONField (jsonb), whose text form is not text"),
        ("labels", "text_fields 'labels' is a ArrayField (varchar[]), whose text form"),
        ("rating", "'rating' is a FloatField"),
        ("published", "'published' is a BooleanField"),
        ("created_at", "'created_at' is a DateTimeField"),
        ("day", "'day' is a DateField"),
        ("blob", "'blob' is a BinaryField"),
        ("embedding", "'embedding' is NeuralRecommendMixin's column"),
        ("embedding_hash", "'embedding_hash' is NeuralRecommendMixin's column"),
    ],
)
def test_fields_that_are_not_text_are_refused(
    post_model: type[models.Model], monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    feed = post_feed(post_model, "title", name)
    error = refused(monkeypatch, feed, message)
    assert str(error).startswith(f"feed PostFeed: text_fields {name!r}")
    if name.startswith(("tag", "likes", "comments")):
        # Relations point at the lookup that names their text.
        assert f"with a lookup, such as '{name}__name'" in str(error)


def test_lookups_through_each_kind_of_relation(post_model: type[models.Model]) -> None:
    feed = post_feed(post_model, "title", "tag__name", "tags__name", "comments__post__title")
    spec = feed.get_spec()
    assert spec.text_columns == ("title", "tag__name", "tags__name", "comments__post__title")
    fk, m2m, two = spec.text_lookups
    assert [(h.table, h.column, h.source_column, h.many) for h in fk.hops] == [
        ("feedapp_tag", "id", "tag_id", False)
    ]
    (hop,) = m2m.hops
    assert (hop.through_table, hop.through_source, hop.through_target, hop.many) == (
        "feedapp_post_tags",
        "post_id",
        "tag_id",
        True,
    )
    assert [(h.table, h.column, h.source_column, h.many) for h in two.hops] == [
        ("feedapp_comment", "post_id", "id", True),
        ("feedapp_post", "id", "post_id", False),
    ]
    assert two.column == "title"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("title__name", "'title__name': feedapp.Post.title is not a relation"),
        ("tags__posts__tags__name", "goes through 3 relations; lookups may go through at most 2"),
        ("tags__nothing", "'nothing', which is not a field of feedapp.Tag (in lookup"),
        ("nothing__name", "'nothing__name': feedapp.Post has no field 'nothing'"),
        ("tags__posts", "text_fields 'posts' is a ManyToManyRel"),
        ("comments__post__extra", "'extra' is a JSONField (jsonb)"),
        ("comments__post__embedding", "'embedding' is NeuralRecommendMixin's column"),
    ],
)
def test_bad_lookups_are_refused(
    post_model: type[models.Model], monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    error = refused(monkeypatch, post_feed(post_model, "title", name), message)
    assert str(error).startswith("feed PostFeed: text_fields")
    assert name in str(error)


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("text_separator", 5, "text_separator must be a string of at most 20 characters"),
        ("text_separator", "x" * 21, "text_separator must be a string"),
        ("text_order", "newest", "text_order must be one of 'value', 'added', got 'newest'"),
        ("text_max_values", 0, "text_max_values must be an integer from 1 to 1000, got 0"),
        ("text_max_values", 2.5, "text_max_values must be an integer"),
        ("text_template", "{title}", "text_template leaves out tags__name"),
        ("text_template", "{title} {tags__name} {body}", "names {body}, which is not one of"),
        ("text_template", "{title!r} {tags__name}", "has a format or conversion"),
        ("text_template", "{title} {tags__name", "text_template '{title} {tags__name':"),
        ("text_template", 3, "text_template must be a string"),
    ],
)
def test_bad_text_options_are_refused(
    post_model: type[models.Model],
    monkeypatch: pytest.MonkeyPatch,
    attribute: str,
    value: object,
    message: str,
) -> None:
    feed = post_feed(post_model, "title", "tags__name")
    setattr(feed, attribute, value)
    error = refused(monkeypatch, feed, message)
    assert str(error).startswith("feed 'posts': ")


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("WEIGHT_SIMILARITY", NAN, "must be a finite number, got nan"),
        ("WEIGHT_FRESHNESS", INF, "must be a finite number, got inf"),
        ("WEIGHT_POPULARITY", -INF, "must be a finite number, got -inf"),
        ("WEIGHT_COLLABORATIVE", "0.6", "must be a finite number, got '0.6'"),
        ("FRESHNESS_HALF_LIFE_HOURS", NAN, "must be a finite number > 0, got nan"),
        ("DISLIKE_WEIGHT", INF, "must be a finite number >= 0, got inf"),
        ("DIVERSITY", 2, "must be None or a number in (0, 1], got 2"),
        ("ENCODER_CLASS", "nowhere.Encoder", "an importable BaseVectorEncoder subclass"),
        ("ENCODER_CLASS", "dnf_core.spec.FeedSpec", "an importable BaseVectorEncoder subclass"),
        ("REDIS_URL", "localhost:6379", "must be None or a URL starting with redis://"),
        ("REDIS_URL", "http://cache:6379/0", "redis://, rediss://, unix://"),
    ],
)
def test_bad_settings_are_errors_naming_the_key_and_each_feed(
    monkeypatch: pytest.MonkeyPatch, key: str, value: object, text: str
) -> None:
    with override_settings(DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, key: value}):
        (error,) = checks.check_settings()
        assert error.id == "dnf_django.E004"
        assert f"DJANGO_NEURAL_FEED[{key!r}]" in error.msg and text in error.msg
        if key.startswith(("WEIGHT", "FRESHNESS", "DISLIKE", "DIVERSITY", "ENCODER")):
            # The feeds that take their default from it fail too, each named.
            attribute = {
                "FRESHNESS_HALF_LIFE_HOURS": "freshness_half_life_hours",
                "DISLIKE_WEIGHT": "dislike_weight",
                "ENCODER_CLASS": "encoder_class",
            }.get(key, key.lower())
            (feed_error,) = feed_errors(monkeypatch, MovieFeed)
            assert feed_error.id == "dnf_django.E001"
            # Attributes the spec validates name the feed by its id.
            named = ("feed MovieFeed: ", "feed 'movies': ")
            assert feed_error.msg.startswith(tuple(f"{n}{attribute}" for n in named))


@pytest.mark.parametrize(
    "url", [None, "redis://h:6379/0", "rediss://h:6380/1", "unix:///tmp/redis.sock", "REDIS://h"]
)
def test_good_redis_urls_pass(url: str | None) -> None:
    with override_settings(DJANGO_NEURAL_FEED={**settings.DJANGO_NEURAL_FEED, "REDIS_URL": url}):
        assert checks.check_settings() == []
