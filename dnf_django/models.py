"""State the workers maintain: user profiles and item interaction counts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from pgvector.django import HalfVectorField, VectorField


class UserFeedProfile(models.Model):
    """A user's taste in one feed: the L2-normalized mean of their recent liked items.

    Kept by the workers: a row exists while the user has at least one interaction
    with an embedded item. A row made through the ORM (to seed a cold-start user, as
    upstream's ``set_user_vector`` did) serves until the workers next recompute that
    user's profile, at their next like or unlike.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_profiles"
    )
    feed_id = models.CharField(max_length=64, db_index=True)
    # No fixed dimension: feeds with different models share this table.
    embedding = VectorField()
    # The same mean over the items' collaborative vectors (dnf_item_factor); NULL
    # until the feed has them.
    collaborative = VectorField(null=True, blank=True)
    # A default so rows can be made through the ORM (tests, fixtures, upstream's
    # set_user_vector habit); the workers set it themselves in SQL.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "dnf_user_profile"
        constraints = [
            models.UniqueConstraint(fields=["user", "feed_id"], name="dnf_user_profile_user_feed")
        ]

    def __str__(self) -> str:
        # Upstream's format, which admin lists and logs built on it may expect.
        return f"{self.user} - {self.feed_id}"


class Failure(models.Model):
    """Something the workers could not process, kept until it succeeds or is retried.

    One row per (feed, task, key): items the encoder rejected, and messages whose
    retries ran out. ``manage.py dnf_retry_failed`` sends them through the pipeline
    again; a later success removes the row.
    """

    feed_id = models.CharField(max_length=64)
    task = models.CharField(max_length=32)
    # The item or user key; empty for tasks not about one key.
    key = models.TextField(blank=True)
    error = models.TextField()
    attempts = models.IntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()

    class Meta:
        db_table = "dnf_failure"
        constraints = [
            models.UniqueConstraint(
                fields=["feed_id", "task", "key"], name="dnf_failure_feed_task_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feed_id} {self.task} {self.key!r}: {self.error[:80]}"


class FeedItemStat(models.Model):
    """How many interactions an item has in a feed, recounted by the workers."""

    feed_id = models.CharField(max_length=64)
    # Text, so one table serves integer, UUID and string primary keys alike.
    item_key = models.TextField()
    interactions = models.IntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "dnf_item_stat"
        constraints = [
            models.UniqueConstraint(fields=["feed_id", "item_key"], name="dnf_item_stat_feed_item")
        ]
        # The feed query walks this in count order for its popular candidates.
        indexes = [models.Index(fields=["feed_id", "-interactions"], name="dnf_item_stat_popular")]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.item_key} ({self.interactions})"


class Backfill(models.Model):
    """How far ``dnf_backfill`` has walked one feed's items or interactions.

    The walk goes in key order and records its position after every batch, so an
    interrupted backfill resumes where it stopped.
    """

    feed_id = models.CharField(max_length=64)
    phase = models.CharField(max_length=16)  # "items" or "interactions"
    last_key = models.TextField(null=True, blank=True)
    scanned = models.BigIntegerField(default=0)
    queued = models.BigIntegerField(default=0)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why the walk last stopped short (a database error), until a batch succeeds again:
    # dnf_status reports it, so rows that predate the feed are never silently skipped.
    error = models.TextField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dnf_backfill"
        constraints = [
            models.UniqueConstraint(fields=["feed_id", "phase"], name="dnf_backfill_feed_phase")
        ]

    def __str__(self) -> str:
        state = "done" if self.finished_at else f"at {self.last_key!r}"
        return f"{self.feed_id} {self.phase}: {self.scanned} scanned, {state}"


class ItemRank(models.Model):
    """An item's rank vector in one feed: what stage one of the feed query searches.

    ``rank = [embedding, a·freshness, a·popularity, slack]``, so that one inner
    product with ``[w_s·profile, w_f/a·decay(now), w_p/a·scale, 0]`` is the
    text, freshness and popularity part of the hybrid score; ``slack`` gives every
    rank vector the same norm, so the HNSW index over them answers
    maximum-inner-product queries. Maintained by the workers from the
    embedding, the freshness field and the interaction count; see
    ``sql/queries/rank_refresh.sql``.
    """

    feed_id = models.CharField(max_length=64)
    item_key = models.TextField()
    # No fixed dimension: feeds with different models share this table; each feed's
    # partial index casts to its own.
    rank = HalfVectorField()
    # The coordinates before scaling, kept so a rebase finds the rows it must redo.
    fresh = models.FloatField()
    pop = models.FloatField()

    class Meta:
        db_table = "dnf_item_rank"
        constraints = [
            models.UniqueConstraint(fields=["feed_id", "item_key"], name="dnf_item_rank_feed_item")
        ]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.item_key}"


class ItemFactor(models.Model):
    """An item's collaborative vector in one feed, learned from who interacted with what.

    A rank-``collaborative_dimension`` factorization of the feed's interactions,
    columns scaled by ``1/sqrt(count)``: the inner product of two items' vectors
    approximates the cosine of their co-interactions (item-kNN, compressed). The item's
    current like column projected onto the basis (:class:`UserFactor`), refolded by the
    workers at each of its likes and unlikes; none while no liker has a basis row, nor
    once the item is gone. Scaled so that against a unit profile the signal of the
    items of the last rebuild lies in [-w, w], ``w`` the support weight (see
    ``workers/factorization.py``).
    """

    feed_id = models.CharField(max_length=64)
    item_key = models.TextField()
    factor = VectorField()

    class Meta:
        db_table = "dnf_item_factor"
        constraints = [
            models.UniqueConstraint(
                fields=["feed_id", "item_key"], name="dnf_item_factor_feed_item"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.item_key}"


class UserFactor(models.Model):
    """A user's row of the basis a feed's collaborative vectors are folded into.

    Learned by the workers' ``factors`` task, one row per user who had interactions at
    the last rebuild (``workers/factorization.py``); an item's vector is the sum of its
    likers' rows over ``sqrt(likers)``. Users new since then have none until the next.
    """

    feed_id = models.CharField(max_length=64)
    # Text, as interaction tables' user keys come in every type.
    user_key = models.TextField()
    factor = VectorField()

    class Meta:
        db_table = "dnf_user_factor"
        constraints = [
            models.UniqueConstraint(
                fields=["feed_id", "user_key"], name="dnf_user_factor_feed_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.user_key}"


class FactorState(models.Model):
    """When a feed's collaborative basis was built, from how many users, items and
    interactions, and when the next build is due. ``users`` is the support that weighs
    the collaborative signal (``workers/factorization.py``)."""

    feed_id = models.CharField(max_length=64, primary_key=True)
    built_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    users = models.IntegerField(default=0)
    items = models.IntegerField(default=0)
    interactions = models.BigIntegerField(default=0)

    class Meta:
        db_table = "dnf_factor_state"

    def __str__(self) -> str:
        return f"{self.feed_id} (built {self.built_at})"


class RankState(models.Model):
    """The reference points a feed's rank vectors were computed against.

    Freshness is stored as ``2^((t - t0)/half-life)`` and popularity as
    ``ln(1+n)/log_scale``; the query scales its own coordinates by the same values,
    so the product is exact whatever ``t0`` is. The workers move ``t0`` and
    ``log_scale`` forward (a rebase) when new coordinates outgrow the range the index
    was built for.
    """

    feed_id = models.CharField(max_length=64, primary_key=True)
    t0 = models.DateTimeField()
    half_life_s = models.FloatField()
    log_scale = models.FloatField()
    coord_scale = models.FloatField()
    rebased_at = models.DateTimeField()

    class Meta:
        db_table = "dnf_rank_state"

    def __str__(self) -> str:
        return f"{self.feed_id} (t0 {self.t0:%Y-%m-%d %H:%M})"


class EmbeddingModel(models.Model):
    """Which model made the vectors a feed serves: ``encoder:model:dimension``.

    Every vector in the feed's embedding column (and so its profiles and rank vectors)
    was made by this identity: workers write that column only with vectors of it.
    When the installed spec names another model, workers put the new model's vectors
    in :class:`NextEmbedding` instead, until ``manage.py dnf_reembed`` swaps them in
    and moves this row to the new identity. Which identity made one row's vector can
    be checked from its ``embedding_hash``: it is ``md5(identity || '\\n' || text)``.
    """

    feed_id = models.CharField(max_length=64, primary_key=True)
    identity = models.TextField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "dnf_embedding_model"

    def __str__(self) -> str:
        return f"{self.feed_id}: {self.identity}"


class NextEmbedding(models.Model):
    """An item's vector from a feed's new model, waiting for the swap of a re-embedding.

    Filled by the workers while the feed keeps serving the old vectors; a row counts
    only while ``text_md5`` still matches the item's text and the new model.
    """

    feed_id = models.CharField(max_length=64)
    item_key = models.TextField()
    identity = models.TextField()
    text_md5 = models.CharField(max_length=32)
    # No fixed dimension: the new model may have another one than the column has now.
    embedding = VectorField(null=True, blank=True)

    class Meta:
        db_table = "dnf_embedding_next"
        constraints = [
            models.UniqueConstraint(
                fields=["feed_id", "item_key"], name="dnf_embedding_next_feed_item"
            )
        ]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.item_key} ({self.identity})"


class Status(models.Model):
    """No table: the admin's entry for the pipeline status page, and its permission."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "status"
        verbose_name_plural = "status"


class FeedPreview(models.Model):
    """No table: the admin's entry for the feed preview page, and its permission."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "feed preview"
        verbose_name_plural = "feed preview"


class ShownPage(models.Model):
    """One page a ``get_page`` chain has shown: the keys it showed, in order.

    The cursor carries only the chain and the page number (signed); the next page
    leaves out the chain's stored keys inside the feed query, so a cursor stays the
    same size however long the chain, and reveals nothing of what it showed. A
    replayed cursor finds its page here and shows it again. Pages of chains older
    than ``CURSOR_MAX_AGE`` are purged as new pages are written; see
    ``dnf_django.pages``.
    """

    chain = models.UUIDField()
    page = models.PositiveIntegerField()
    # Keys as text: one table serves every content key type; the feed query casts back.
    keys = ArrayField(models.TextField())
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "dnf_shown_page"
        constraints = [
            models.UniqueConstraint(fields=["chain", "page"], name="dnf_shown_page_chain_page")
        ]

    def __str__(self) -> str:
        return f"{self.chain} page {self.page}"
