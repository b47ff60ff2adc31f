"""Send a feed's existing rows through the pipeline, in bounded, resumable batches.

Triggers only see writes made after a feed is installed. A backfill walks the
content table in key order and writes outbox events for the items whose embedding
is missing or stale, then walks the interaction table the same way so that every
profile and count gets built; running workers do the rest exactly as for live
writes. Each batch is one short statement and records where it stopped, so writers
are never blocked and an interrupted backfill resumes where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from dnf_core.errors import ConfigurationError
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from dnf_django.models import Backfill
from dnf_django.registry import installed_specs

PHASES = ("items", "interactions")


@dataclass(frozen=True)
class Progress:
    """Where one phase of one feed's backfill stands."""

    feed_id: str
    phase: str
    scanned: int
    total: int
    queued: int
    done: bool


def backfill(
    feed: Any,
    *,
    batch: int = 2000,
    restart: bool = False,
    using: str = "default",
    report: Callable[[Progress], None] = lambda _: None,
) -> list[Progress]:
    """Queue ``feed``'s existing items and interactions; return each phase's final state.

    ``restart`` walks from the start again, even over phases already finished. The
    items phase queues only items whose stored hash does not match their text and
    model, so a second run after a complete one queues nothing.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    spec = _installed_spec(feed.get_spec().feed_id, using)
    with connections[using].cursor() as cur:
        cur.execute(feed_query("backfill_totals", spec))
        totals = dict(zip(PHASES, cur.fetchone(), strict=True))
    finals = []
    for phase in PHASES:
        state = _state(spec.feed_id, phase, restart, using)
        while state.finished_at is None:
            state = _step(spec, state, batch, using)
            report(_progress(state, totals[phase]))
        finals.append(_progress(state, totals[phase]))
    return finals


def _installed_spec(feed_id: str, using: str) -> FeedSpec:
    # The spec the workers act on, whose model decides which stored vectors are stale.
    spec = installed_specs(using).get(feed_id)
    if spec is None:
        raise ConfigurationError(f"feed {feed_id!r} is not installed: run python manage.py migrate")
    return spec


def _state(feed_id: str, phase: str, restart: bool, using: str) -> Backfill:
    now = timezone.now()
    state, created = Backfill.objects.using(using).get_or_create(
        feed_id=feed_id, phase=phase, defaults={"started_at": now, "updated_at": now}
    )
    if restart and not created:
        state.last_key, state.scanned, state.queued = None, 0, 0
        state.started_at, state.updated_at, state.finished_at = now, now, None
        state.save(using=using)
    return state


def _step(spec: FeedSpec, state: Backfill, batch: int, using: str) -> Backfill:
    params = {
        "feed_id": spec.feed_id,
        "after": state.last_key,
        "first": state.last_key is None,
        "batch": batch,
        "identity": spec.embedding_identity,
    }
    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute(feed_query(f"backfill_{state.phase}", spec), params)
        last_key, scanned, queued = cur.fetchone()
        if queued:
            cur.execute("SELECT pg_notify('dnf_outbox', %s)", [spec.feed_id])
        now = timezone.now()
        if last_key is not None:
            state.last_key = last_key
        state.scanned += scanned
        state.queued += queued
        state.updated_at = now
        if scanned < batch:
            state.finished_at = now
        state.save(using=using)
    return state


def _progress(state: Backfill, total: int) -> Progress:
    return Progress(
        feed_id=state.feed_id,
        phase=state.phase,
        scanned=state.scanned,
        total=max(total, state.scanned),
        queued=state.queued,
        done=state.finished_at is not None,
    )
