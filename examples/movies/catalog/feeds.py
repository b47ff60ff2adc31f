from catalog.models import Movie
from dnf_django.feeds import BaseNeuralFeed


class MovieFeed(BaseNeuralFeed):
    feed_id = "movies"
    content_django_model = Movie
    interaction_django_model = Movie.likes.through
    mode = "m2m"
    text_fields = ("title", "genres", "tags")
    freshness_field = "published_at"
    user_likes_limit = 20
