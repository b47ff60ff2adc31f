"""The feed of upstream's README quick start, in m2m mode."""

from django_neural_feed.feeds import BaseNeuralFeed
from posts.models import Post


class PostFeed(BaseNeuralFeed):
    feed_id = "posts_main"
    content_django_model = Post
    interaction_django_model = Post.likes.through
    # In m2m mode upstream finds the user and post columns of the through table itself.
    mode = "m2m"
    user_likes_limit = 20
