from django.conf import settings
from django.db import models
from django.utils import timezone

from dnf_django.mixins import NeuralRecommendMixin


class Movie(NeuralRecommendMixin, models.Model):
    """A movie; its title, genres and tags are what gets embedded."""

    title = models.CharField(max_length=300)
    genres = models.CharField(max_length=300, blank=True)
    tags = models.TextField(blank=True)
    movielens_id = models.IntegerField(null=True, blank=True, unique=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    likes = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="liked_movies", blank=True
    )

    def __str__(self) -> str:
        return self.title
