"""A feed per content key type and interaction mode: ``<key>_likes`` (m2m) and
``<key>_reactions`` (an explicit model with likes and dislikes)."""

from typing import Any

from dnf_django.feeds import BaseNeuralFeed
from tests.keys import models

KEY_TYPES = {"int": "integer", "big": "bigint", "uuid": "uuid", "text": "varchar"}


def _feeds(prefix: str, post: Any, reaction: Any) -> tuple[type, type]:
    likes = type(
        f"{prefix.title()}LikesFeed",
        (BaseNeuralFeed,),
        {
            "feed_id": f"{prefix}_likes",
            "content_django_model": post,
            "interaction_django_model": post.likes.through,
            "mode": "m2m",
            "text_fields": ("title", "body", "tags__name"),
            "freshness_field": "published_at",
            "__module__": __name__,
        },
    )
    reactions = type(
        f"{prefix.title()}ReactionsFeed",
        (BaseNeuralFeed,),
        {
            "feed_id": f"{prefix}_reactions",
            "parent_feed": likes,
            "interaction_django_model": reaction,
            "mode": "model",
            "user_field_name": "user",
            "content_field_name": "post",
            "order_field_name": "reacted_at",
            "value_field_name": "value",
            "__module__": __name__,
        },
    )
    return likes, reactions


IntLikesFeed, IntReactionsFeed = _feeds("int", models.IntPost, models.IntReaction)
BigLikesFeed, BigReactionsFeed = _feeds("big", models.BigPost, models.BigReaction)
UuidLikesFeed, UuidReactionsFeed = _feeds("uuid", models.UuidPost, models.UuidReaction)
TextLikesFeed, TextReactionsFeed = _feeds("text", models.TextPost, models.TextReaction)

FEEDS = {
    feed.feed_id: feed
    for feed in (
        IntLikesFeed,
        IntReactionsFeed,
        BigLikesFeed,
        BigReactionsFeed,
        UuidLikesFeed,
        UuidReactionsFeed,
        TextLikesFeed,
        TextReactionsFeed,
    )
}
