"""Embed items: read their current text, encode in batches, write with a stale guard."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dnf_core.encoders import BaseVectorEncoder, checked_matrix, load_encoder
from dnf_core.encoders.backends import backend_encoder, embedding_target, same_model
from dnf_core.errors import EncoderError
from dnf_core.events import Task, TaskKind
from dnf_core.queries import feed_query
from dnf_core.spec import FeedSpec
from workers.actors.factors import refresh_likers, write_factors
from workers.actors.rank import rebase, write_ranks
from workers.failures import clear_failures, record_failures
from workers.reembed import serving_identity
from workers.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """An item to embed, with the hash of the model and text it is embedded from."""

    key: str
    text: str
    text_md5: str


def embed_items(runtime: Runtime, feed_id: str, keys: list[str]) -> int:
    """Embed the items ``keys`` of ``feed_id``; return how many rows were written.

    Items whose stored hash already matches their text and model are skipped. No
    transaction is held while the encoder runs, and each sub-batch is written as soon
    as it is encoded. A vector lands only on rows whose text still hashes to what was
    encoded, so a concurrent edit is never overwritten by a vector of the old text
    (its own event brings the new text here again). Items with empty text get no
    vector: they still rank by freshness and popularity. When the time budget runs
    out, the remaining keys go back to the queue as a new message, so no message runs
    long enough to starve the worker's heartbeat. While the feed serves another
    model's vectors (a re-embedding, see :mod:`workers.reembed`), the vectors go to
    the next store instead of the embedding column. A feed serving its model on
    another backend than the spec declares is embedded with that backend
    (:func:`dnf_core.encoders.backends.embedding_target`) until ``dnf_reembed``.
    """
    limits = runtime.limits
    deadline = time.monotonic() + limits.embed_seconds
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    with conn.transaction():
        # During a re-embedding, what is due is a vector in the next store; a feed
        # that serves the same model on another backend keeps that backend.
        spec, current = embedding_target(spec, serving_identity(conn, spec))
        rows = conn.execute(
            feed_query("items_text" if current else "items_text_next", spec),
            {"keys": keys, "identity": spec.embedding_identity, "feed_id": feed_id},
        ).fetchall()
    items = [Item(key, text, md5) for key, text, md5 in rows]
    # Items already embedded (or deleted) still need a current rank vector: after an
    # upgrade, the backfill walk reaches them this way. A deleted item loses its rank
    # and collaborative vectors together, so a key reused later inherits neither.
    fetched = {item.key for item in items}
    skipped = [key for key in keys if key not in fetched]
    if skipped:
        with conn.transaction():
            due = write_ranks(conn, spec, skipped)
            likers = write_factors(conn, spec, skipped)
        if due:
            rebase(runtime, spec)
        refresh_likers(runtime, spec, likers)
    encoder = backend_encoder(load_encoder(spec.encoder), spec.encoder, spec.encoder_backend)
    written = 0
    for start in range(0, len(items), limits.encode_batch):
        if start and time.monotonic() > deadline:
            rest = tuple(item.key for item in items[start:])
            runtime.send(Task(TaskKind.EMBED, feed_id, rest))
            logger.info("feed %s: time budget spent, %d items requeued", feed_id, len(rest))
            break
        written += _embed_batch(runtime, spec, encoder, items[start : start + limits.encode_batch])
    return written


def _embed_batch(
    runtime: Runtime, spec: FeedSpec, encoder: type[BaseVectorEncoder], items: list[Item]
) -> int:
    textual = [item for item in items if item.text.strip()]
    vectors, errors = _encode_isolating(encoder, spec, textual) if textual else ({}, {})
    # Items the encoder rejected keep their old vector and hash, so they are retried
    # by the next event or by dnf_retry_failed.
    done = [item for item in items if item.key not in errors]
    conn = runtime.connections.get()
    with conn.transaction():
        # Decided under a share lock, so a swap cannot slip in before the write: the
        # column only ever holds vectors of the model it serves.
        serving = serving_identity(conn, spec)
        if serving != spec.embedding_identity:
            if same_model(serving, spec.embedding_identity):
                # dnf_reembed moved the feed to another backend meanwhile: its walk
                # queues these items again, for that backend.
                return 0
            # Kept aside while the feed serves the old model: its column, profiles
            # and rank vectors stay as they are until the swap.
            return len(_write_vectors(conn, spec, "items_write_next", done, vectors, errors))
        written = _write_vectors(conn, spec, "items_write_embeddings", done, vectors, errors)
        due = write_ranks(conn, spec, [item.key for item in done])
        # Items embedded after they were liked change their likers' profiles.
        likers = [
            row[0] for row in conn.execute(feed_query("items_likers", spec), {"keys": written})
        ]
    if due:
        rebase(runtime, spec)
    if likers:
        task = Task(TaskKind.PROFILES, spec.feed_id, tuple(sorted(likers)))
        runtime.send_chunked(task)
    if len(written) < len(done):
        logger.info(
            "feed %s: %d items changed while embedding; their new events follow",
            spec.feed_id,
            len(done) - len(written),
        )
    return len(written)


def _write_vectors(
    conn: Any,
    spec: FeedSpec,
    query: str,
    done: list[Item],
    vectors: dict[str, np.ndarray[Any, Any]],
    errors: dict[str, str],
) -> list[str]:
    """Write ``done``'s vectors with ``query`` (stale-text guarded) and bookkeep
    failures; the keys actually written."""
    written = [
        row[0]
        for row in conn.execute(
            feed_query(query, spec),
            {
                "feed_id": spec.feed_id,
                "keys": [item.key for item in done],
                "text_md5": [item.text_md5 for item in done],
                "embeddings": [vectors.get(item.key) for item in done],
                "identity": spec.embedding_identity,
            },
        )
    ]
    for error, keys in _group(errors).items():
        record_failures(conn, spec.feed_id, TaskKind.EMBED, keys, error)
    clear_failures(conn, spec.feed_id, TaskKind.EMBED, written)
    return written


def _encode_isolating(
    encoder: type[BaseVectorEncoder], spec: FeedSpec, items: Sequence[Item]
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, str]]:
    """Encode ``items``; if the batch fails, split it to isolate the items that fail.

    When every item fails on its own too, the fault is not in the items (a missing
    model, say): that raises, so Dramatiq retries the message instead of recording a
    failure against every item.
    """
    vectors, errors = _split(encoder, spec, items)
    if not vectors and errors:
        first = next(iter(errors.values()))
        raise EncoderError(f"{spec.encoder} failed on every item of the batch, e.g. {first}")
    return vectors, errors


def _split(
    encoder: type[BaseVectorEncoder], spec: FeedSpec, items: Sequence[Item]
) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, str]]:
    try:
        raw = encoder.encode_batch([item.text for item in items], spec.model_name)
        matrix = checked_matrix(raw, len(items), spec.dimension, spec.encoder)
    except Exception as exc:
        if len(items) == 1:
            return {}, {items[0].key: f"{type(exc).__name__}: {exc}"}
        middle = len(items) // 2
        left_vectors, left_errors = _split(encoder, spec, items[:middle])
        right_vectors, right_errors = _split(encoder, spec, items[middle:])
        return left_vectors | right_vectors, left_errors | right_errors
    return {item.key: vector for item, vector in zip(items, matrix, strict=True)}, {}


def _group(errors: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, error in errors.items():
        grouped.setdefault(error, []).append(key)
    return grouped
