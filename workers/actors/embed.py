"""Embed items: read their current text, encode in one batch, write with a stale guard."""

from __future__ import annotations

import logging

from dnf_core.encoders import checked_matrix, load_encoder
from dnf_core.events import Task, TaskKind
from dnf_core.queries import feed_query
from workers.runtime import Runtime

logger = logging.getLogger(__name__)


def embed_items(runtime: Runtime, feed_id: str, keys: list[str]) -> int:
    """Embed the items ``keys`` of ``feed_id``; return how many vectors were written.

    No transaction is held while the encoder runs. The write only lands on rows whose
    text still hashes to what was encoded, so a concurrent edit is never overwritten
    by a vector of the old text (its own event brings the new text here again).
    Items with empty text get no vector: they still rank by freshness and popularity.
    """
    conn = runtime.connections.get()
    spec = runtime.registry.get(conn, feed_id)
    with conn.transaction():
        rows = conn.execute(
            feed_query("items_text", spec), {"keys": keys, "identity": spec.embedding_identity}
        ).fetchall()
    if not rows:
        return 0

    texts = [(key, text, md5) for key, text, md5 in rows]
    non_empty = [(key, text, md5) for key, text, md5 in texts if text and text.strip()]
    vectors: dict[str, object] = {key: None for key, _, _ in texts}
    if non_empty:
        encoder = load_encoder(spec.encoder)
        raw = encoder.encode_batch([text for _, text, _ in non_empty], spec.model_name)
        matrix = checked_matrix(raw, len(non_empty), spec.dimension, spec.encoder)
        for (key, _, _), vector in zip(non_empty, matrix, strict=True):
            vectors[key] = vector

    with conn.transaction():
        written = conn.execute(
            feed_query("items_write_embeddings", spec),
            {
                "keys": [key for key, _, _ in texts],
                "text_md5": [md5 for _, _, md5 in texts],
                "embeddings": [vectors[key] for key, _, _ in texts],
                "identity": spec.embedding_identity,
            },
        ).fetchall()
        written_keys = [row[0] for row in written]
        # Items embedded after they were liked change their likers' profiles.
        likers = conn.execute(feed_query("items_likers", spec), {"keys": written_keys}).fetchall()
    if likers:
        users = tuple(sorted(row[0] for row in likers))
        runtime.send_chunked(Task(TaskKind.PROFILES, feed_id, users), runtime.limits.profiles)
    skipped = len(texts) - len(written_keys)
    if skipped:
        logger.info(
            "feed %s: %d items changed while embedding; their new events follow", feed_id, skipped
        )
    return len(written_keys)
