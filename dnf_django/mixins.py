"""The mixin that gives a content model its embedding column."""

from __future__ import annotations

from django.db import models
from pgvector.django import VectorField

from dnf_django.conf import feed_setting


class NeuralRecommendMixin(models.Model):
    """Adds ``embedding``, a pgvector column of ``VECTOR_DIMENSION`` written by the workers.

    Changing ``VECTOR_DIMENSION`` changes the field, so ``makemigrations`` writes the
    migration that alters the column.
    """

    embedding = VectorField(
        dimensions=feed_setting("VECTOR_DIMENSION"), null=True, blank=True, editable=False
    )

    class Meta:
        abstract = True
