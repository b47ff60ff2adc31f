"""The content model of upstream's README quick start."""

from django.conf import settings
from django.db import models
from django_neural_feed.mixins import NeuralRecommendMixin


class Post(NeuralRecommendMixin, models.Model):
    title = models.CharField(max_length=255)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    likes = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="liked_posts")

    def get_ready_text(self) -> str:
        return f"{self.title} {self.content}"
