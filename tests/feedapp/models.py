"""Models of the test-only app: an explicit interaction model and a shared content table."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from dnf_django.mixins import NeuralRecommendMixin


class Article(NeuralRecommendMixin, models.Model):
    headline = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    views = models.IntegerField(default=0)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    saved_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="saved_articles", blank=True
    )


class Reaction(models.Model):
    """A like (+1) or a dislike (-1), with its own timestamp defining 'most recent'."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    value = models.SmallIntegerField(default=1)
    reacted_at = models.DateTimeField(default=timezone.now)
