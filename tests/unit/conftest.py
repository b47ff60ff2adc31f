import pytest

from dnf_core.spec import FeedSpec


@pytest.fixture
def spec() -> FeedSpec:
    return FeedSpec(
        feed_id="articles",
        content_table="blog_article",
        content_key="id",
        content_key_type="bigint",
        text_columns=("title", "body"),
        interaction_table="blog_article_likes",
        interaction_user_column="user_id",
        interaction_item_column="article_id",
        interaction_order_column="id",
        user_key_type="integer",
        encoder="dnf_core.encoders.HashingEncoder",
        model_name="hashing-384",
        dimension=384,
    )
