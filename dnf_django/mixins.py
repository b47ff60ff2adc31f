"""The mixin that gives a content model its embedding column."""

from __future__ import annotations

from django.db import models
from pgvector.django import VectorField

from dnf_django.conf import feed_setting


class NeuralRecommendMixin(models.Model):
    """Adds the columns the workers write: ``embedding`` and ``embedding_hash``.

    ``embedding`` is a pgvector column of ``VECTOR_DIMENSION``; changing the setting
    changes the field, so ``makemigrations`` writes the migration that alters it.
    ``embedding_hash`` is the md5 of the model and text the vector was computed from:
    NULL means not embedded yet, and an item whose hash is current is never embedded
    twice (feeds sharing a table, replayed events). Items with empty text get a hash
    and no vector.
    """

    embedding = VectorField(
        dimensions=feed_setting("VECTOR_DIMENSION"), null=True, blank=True, editable=False
    )

    embedding_hash = models.CharField(max_length=32, null=True, blank=True, editable=False)

    class Meta:
        abstract = True
