from dnf_django.feeds import BaseNeuralFeed
from tests.feedapp.models import Article, Post, Reaction


class ReactionFeed(BaseNeuralFeed):
    """Model mode: an explicit interaction model with order and value fields."""

    feed_id = "reactions"
    content_django_model = Article
    interaction_django_model = Reaction
    mode = "model"
    user_field_name = "user"
    content_field_name = "article"
    order_field_name = "reacted_at"
    value_field_name = "value"
    text_fields = ("headline", "body")
    freshness_field = "published_at"


class SavedArticleFeed(BaseNeuralFeed):
    """Shares ReactionFeed's content table (and so its embedding), with other interactions."""

    feed_id = "saved_articles"
    parent_feed = ReactionFeed
    interaction_django_model = Article.saved_by.through
    mode = "m2m"


class PostFeed(BaseNeuralFeed):
    """Text from related rows: a foreign key, a many-to-many, a reverse foreign key and
    two hops (a foreign key, then the reverse side of a one-to-one)."""

    feed_id = "posts"
    content_django_model = Post
    interaction_django_model = Post.likes.through
    mode = "m2m"
    text_fields = (
        "title",
        "category__name",
        "tags__name",
        "author__profile__bio",
        "comments__text",
    )
    text_max_values = 5
