"""``evaluate_feed``: a feed's offline quality, measured through the real pipeline.

The feed's items and the training part of its interactions go into a scratch
database; a real worker embeds the items, and builds profiles and counts from the
interactions the triggers captured; each evaluated user's list comes from
``Feed.get_feed``. Baselines are ranked in numpy on the same split, from the
vectors the worker wrote.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Hashable
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.module_loading import import_string
from tqdm import tqdm

from dnf_core.encoders.backends import check_backend
from dnf_core.errors import EvaluationError
from dnf_core.evaluation.baselines import (
    popularity_rankings,
    random_rankings,
    upstream_rankings,
)
from dnf_core.evaluation.datasets import Dataset
from dnf_core.evaluation.metrics import summarize
from dnf_core.evaluation.report import EvaluationReport
from dnf_core.evaluation.split import HoldOut
from dnf_django.compiler import text_models
from dnf_django.endpoints import redis_url
from dnf_django.evaluation.loading import copy_own_tables, load_dataset
from dnf_django.evaluation.scratch import (
    drop_foreign_keys,
    scratch_database,
    scratch_redis,
    set_backend,
    set_encoder,
)
from dnf_django.management.commands._worker_runs import run_worker_until_idle
from dnf_django.models import UserFeedProfile
from dnf_django.registry import installed_specs, registered_feeds

# The upstream formula's profile window (django-neural-feed's default).
UPSTREAM_WINDOW = 20


def resolve_feed(feed: Any) -> Any:
    """A feed class from itself, a registered ``feed_id``, or a dotted path."""
    from dnf_django.feeds import BaseNeuralFeed

    if isinstance(feed, type) and issubclass(feed, BaseNeuralFeed):
        return feed
    registered = {f.get_spec().feed_id: f for f in registered_feeds()}
    if not isinstance(feed, str):
        raise EvaluationError(f"not a feed: {feed!r}")
    if feed in registered:
        return registered[feed]
    if "." in feed:
        try:
            found = import_string(feed)
        except ImportError as exc:
            raise EvaluationError(f"cannot import feed {feed!r}: {exc}") from None
        if isinstance(found, type) and issubclass(found, BaseNeuralFeed):
            return found
        raise EvaluationError(f"{feed!r} is not a BaseNeuralFeed subclass")
    raise EvaluationError(
        f"unknown feed {feed!r}; registered feeds: {sorted(registered) or 'none'}"
    )


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EvaluationError(f"{name} must be a positive integer, got {value!r}")


def evaluate_feed(
    feed: Any,
    dataset: Dataset | None = None,
    *,
    k: int = 10,
    recall_k: int = 20,
    users: int | None = None,
    min_likes: int = 10,
    holdout: float = 0.2,
    source: str = "default",
    encoder: tuple[str, str] | None = None,
    backend: str | None = None,
    seed: int = 0,
    timeout: float = 3600.0,
    progress: bool = True,
) -> EvaluationReport:
    """Evaluate ``feed`` (a class, a feed id or a dotted path) with a temporal hold-out.

    On ``dataset`` if given, else on the feed's own tables in database ``source``
    (only read). Each user with at least ``min_likes`` likes has the last
    ``holdout`` share of them (rounded down, by time) held out; every item they did
    not like in training is ranked. The report holds HR@k, NDCG@k, Recall@recall_k,
    coverage@k and the share of top-k slots given to items with no training like,
    for the feed and for random, popularity and the upstream formula.

    ``users`` evaluates a random sample of that many users (``seed``); ``encoder``
    ``(class path, model name)`` embeds with another encoder than the installed one;
    ``backend`` (``"torch"``, ``"onnx"``, ``"onnx-int8"``) with another ENCODER_BACKEND.
    Needs the right to create databases on the server, and a free Redis database.
    """
    feed = resolve_feed(feed)
    _positive("k", k)
    _positive("recall_k", recall_k)
    if users is not None:
        _positive("users", users)
    spec = feed.get_spec()
    content = feed.get_setting("content_django_model")
    limit = max(k, recall_k)
    timings: dict[str, float] = {}
    with scratch_database(source) as scratch:
        alias = scratch.alias
        if spec.feed_id not in installed_specs(alias):
            raise EvaluationError(
                f"feed {spec.feed_id!r} is not installed by the project's migrations: "
                "run manage.py dnf_makemigrations"
            )
        # Users are not copied: their profiles and likes hold bare keys. Neither are
        # the rows that the tables the text reads through lookups point to further.
        drop_foreign_keys(
            alias,
            [
                spec.content_table,
                spec.interaction_table,
                UserFeedProfile._meta.db_table,
                *(model._meta.db_table for model in text_models(feed)),
            ],
        )
        if encoder is not None:
            set_encoder(alias, spec.feed_id, *encoder)
        if backend is not None:
            set_backend(alias, spec.feed_id, check_backend(backend, "backend"))
        started = time.monotonic()
        loaded = (
            load_dataset(
                feed, spec, dataset, alias, min_likes=min_likes, holdout=holdout, progress=progress
            )
            if dataset is not None
            else copy_own_tables(
                feed, spec, source, alias, min_likes=min_likes, holdout=holdout, progress=progress
            )
        )
        split = _sample(loaded.split, users, seed)
        timings["load"] = time.monotonic() - started

        started = time.monotonic()
        with scratch_redis(redis_url()) as scratch_broker:
            run_worker_until_idle(
                scratch.url,
                scratch_broker,
                content,
                alias,
                timeout=timeout,
                progress=progress,
                factors_of=spec.feed_id if spec.collaborative_dimension else None,
            )
        timings["pipeline"] = time.monotonic() - started

        started = time.monotonic()
        feed_rankings = _feed_rankings(feed, alias, split, limit, progress)
        timings["rank"] = time.monotonic() - started

        started = time.monotonic()
        vectors, missing = _vectors(content, alias, loaded.items, spec.dimension)
        rankings = {
            f"{spec.feed_id} (feed)": feed_rankings,
            "random": random_rankings(split, loaded.items, limit, seed=seed),
            "popularity": popularity_rankings(split, loaded.items, limit),
            "upstream formula": upstream_rankings(
                split, loaded.items, vectors, limit, window=UPSTREAM_WINDOW
            ),
        }
        warm = set(split.item_counts())
        rows = {
            name: summarize(
                ranked,
                split.test,
                warm=warm,
                catalogue_size=len(loaded.items),
                k=k,
                recall_k=recall_k,
            )
            for name, ranked in rankings.items()
        }
        timings["baselines"] = time.monotonic() - started
    protocol = {
        "source": "files" if dataset is not None else f"tables of {source!r}",
        "min_likes": min_likes,
        "holdout": holdout,
        "catalogue_size": len(loaded.items),
        "items_without_vector": missing,
        "sampled_users": users,
        "seed": seed,
        "encoder": list(encoder) if encoder else [spec.encoder, spec.model_name],
        "backend": backend or spec.encoder_backend,
        **split.sizes(),
    }
    return EvaluationReport(spec.feed_id, k, recall_k, rows, protocol, timings)


def _sample(split: HoldOut, users: int | None, seed: int) -> HoldOut:
    if not split.test:
        raise EvaluationError(
            "no user has enough likes to be evaluated (each needs at least min_likes, "
            "and a held-out share of at least one like)"
        )
    if users is None or users >= len(split.test):
        return split
    chosen = set(random.Random(seed).sample(split.evaluated, users))
    test = {u: held for u, held in split.test.items() if u in chosen}
    return HoldOut(train=split.train, test=test, held_out_rows=split.held_out_rows)


def _feed_rankings(
    feed: Any, alias: str, split: HoldOut, limit: int, progress: bool
) -> dict[Hashable, list[Hashable]]:
    user_model = get_user_model()
    content = feed.get_setting("content_django_model")
    queryset = content._default_manager.using(alias).all()
    now = timezone.now()
    out: dict[Hashable, list[Hashable]] = {}
    for user in tqdm(
        split.evaluated, unit="user", desc="ranking", disable=not progress, file=sys.stderr
    ):
        # Users are not copied to the scratch database: an unsaved instance with the
        # right key is all get_feed reads.
        ranked = feed.get_feed(
            user_model(pk=user),
            queryset=queryset,
            excluded_ids=split.train[user],
            limit=limit,
            now=now,
        )
        out[user] = [obj.pk for obj in ranked]
    return out


def _vectors(
    content: Any, alias: str, items: list[Hashable], dimension: int
) -> tuple[np.ndarray, int]:
    """The vectors the worker wrote, in catalogue order (zeros where there is none)."""
    stored = dict(content._base_manager.using(alias).values_list("pk", "embedding"))
    matrix = np.zeros((len(items), dimension))
    missing = 0
    for row, item in enumerate(items):
        vector = stored.get(item)
        if vector is None:
            missing += 1
        else:
            matrix[row] = np.asarray(vector, dtype=np.float64)
    return matrix, missing
