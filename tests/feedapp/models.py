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


class Category(models.Model):
    name = models.CharField(max_length=100)


class Tag(models.Model):
    name = models.CharField(max_length=100)
    # Not read by any feed: editing it must enqueue nothing.
    slug = models.CharField(max_length=100, blank=True)


class Author(models.Model):
    name = models.CharField(max_length=100)


class AuthorProfile(models.Model):
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)
    website = models.CharField(max_length=200, blank=True)


class Post(NeuralRecommendMixin, models.Model):
    """Content whose text is read from related rows through every kind of lookup."""

    title = models.CharField(max_length=200)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    author = models.ForeignKey(Author, null=True, blank=True, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    likes = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="liked_posts", blank=True)


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
