"""Content, interaction and user models with every primary key type real projects use.

The key-type matrix runs once per user model (``DNF_TEST_USER_KEY``); every run
covers every content key type in both interaction modes.
"""

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone

from dnf_django.mixins import NeuralRecommendMixin


class KeyUserManager(BaseUserManager["KeyUser"]):
    def create_user(self, username: str, **fields: Any) -> "KeyUser":
        user = self.model(username=username, **fields)
        user.set_unusable_password()
        user.save(using=self._db)
        return user


class KeyUser(AbstractBaseUser):
    """A custom user model as projects write them (no PermissionsMixin)."""

    username = models.CharField(max_length=150, unique=True)
    is_staff = models.BooleanField(default=False)
    is_superuser = models.BooleanField(default=False)

    objects = KeyUserManager()
    USERNAME_FIELD = "username"

    class Meta:
        abstract = True

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_active and self.is_superuser

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_superuser


class BigUser(KeyUser):
    id = models.BigAutoField(primary_key=True)


class UuidUser(KeyUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)


class TextUser(KeyUser):
    handle = models.CharField(max_length=64, primary_key=True, default=uuid.uuid4)


class KeyTag(models.Model):
    """A tag the posts' text reads through the lookup ``tags__name``. Its key is a UUID
    whatever the post's, so each link table pairs two key types."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=50)


class Post(NeuralRecommendMixin, models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    tags = models.ManyToManyField(KeyTag, related_name="%(class)s_set", blank=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    likes = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="liked_%(class)s", blank=True
    )

    class Meta:
        abstract = True


class IntPost(Post):
    id = models.AutoField(primary_key=True)


class BigPost(Post):
    id = models.BigAutoField(primary_key=True)


class UuidPost(Post):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)


class TextPost(Post):
    slug = models.CharField(max_length=64, primary_key=True)


class Reaction(models.Model):
    """A like (+1) or a dislike (-1); the newest by ``reacted_at`` count first."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)s_set"
    )
    value = models.SmallIntegerField(default=1)
    reacted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class IntReaction(Reaction):
    post = models.ForeignKey(IntPost, on_delete=models.CASCADE)


class BigReaction(Reaction):
    post = models.ForeignKey(BigPost, on_delete=models.CASCADE)


class UuidReaction(Reaction):
    # The interaction table's own key is a UUID too: the backfill walks it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    post = models.ForeignKey(UuidPost, on_delete=models.CASCADE)


class TextReaction(Reaction):
    post = models.ForeignKey(TextPost, on_delete=models.CASCADE)
