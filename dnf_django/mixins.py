"""The mixin that gives a content model its embedding column."""

from __future__ import annotations

from typing import Any

from django.db import models
from pgvector.django import VectorField

from dnf_django.conf import feed_setting


class EmbeddingField(VectorField):
    """The mixin's ``embedding``: a pgvector column, left out of serialization.

    ``serialize=False`` is the flag Django's serializers (``dumpdata``) and Django
    REST framework's ``ModelSerializer`` (``fields = "__all__"``) read to leave a
    field out: a vector is hundreds of floats per item, no API payload, and the
    workers recompute it from the text. ``editable=False`` alone keeps it out of
    forms only; DRF would still send it, read-only. ``deconstruct`` describes the
    plain pgvector field, as migrations always have: the flag is no part of the
    schema, so adopting it writes no migration in any project.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serialize", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[Any, Any, Any, Any]:
        name, _, args, kwargs = super().deconstruct()
        kwargs.pop("serialize", None)
        return name, "pgvector.django.vector.VectorField", args, kwargs


class EmbeddingHashField(models.CharField):  # type: ignore[type-arg]
    """The mixin's ``embedding_hash``, left out of serialization as
    :class:`EmbeddingField` is (a hash of text nobody outside the workers reads), and
    described to migrations as the plain ``CharField`` it always was."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serialize", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        kwargs.pop("serialize", None)
        return name, "django.db.models.CharField", args, kwargs


class NeuralRecommendMixin(models.Model):
    """Adds the columns the workers write: ``embedding`` and ``embedding_hash``.

    ``embedding`` is a pgvector column of ``VECTOR_DIMENSION``; changing the setting
    changes the field, so ``makemigrations`` writes the migration that alters it.
    ``embedding_hash`` is the md5 of the model and text the vector was computed from:
    NULL means not embedded yet, and an item whose hash is current is never embedded
    twice (feeds sharing a table, replayed events). Items with empty text get a hash
    and no vector.

    Both are left out of serialization (``dumpdata``, DRF's ``ModelSerializer``):
    see :class:`EmbeddingField`. Reading them as attributes and in queries works as
    before.
    """

    embedding = EmbeddingField(
        dimensions=feed_setting("VECTOR_DIMENSION"), null=True, blank=True, editable=False
    )

    embedding_hash = EmbeddingHashField(max_length=32, null=True, blank=True, editable=False)

    class Meta:
        abstract = True
