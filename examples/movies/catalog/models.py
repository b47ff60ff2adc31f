from django.conf import settings
from django.db import models
from django.utils import timezone

from dnf_django.mixins import NeuralRecommendMixin


class Genre(models.Model):
    """A MovieLens genre ("Comedy"); movies link to theirs in the file's order."""

    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A tag users gave movies, lowercased; movies link to theirs in order of first use."""

    name = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.name


class Movie(NeuralRecommendMixin, models.Model):
    """A movie; its title and the names of its genres and tags are what gets embedded."""

    title = models.CharField(max_length=300)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    tags = models.ManyToManyField(Tag, related_name="movies", blank=True)
    movielens_id = models.IntegerField(null=True, blank=True, unique=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    likes = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="liked_movies", blank=True
    )

    def __str__(self) -> str:
        return self.title
