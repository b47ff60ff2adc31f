"""Maximal marginal relevance: a ranked list re-ordered so it is not near-duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dnf_core.errors import InvalidArgument


def mmr_order(
    scores: Sequence[float], vectors: Sequence[Any] | np.ndarray, trade_off: float, count: int
) -> list[int]:
    """Indices of ``count`` items, picked greedily by maximal marginal relevance.

    Each pick maximizes ``trade_off * score - (1 - trade_off) * max cosine to the
    items already picked`` (Carbonell and Goldstein, 1998): ``trade_off`` 1 keeps the
    order of ``scores``, lower values trade score for variety. An item without a
    vector (``None``) is similar to nothing.
    """
    if not 0.0 < trade_off <= 1.0:
        raise InvalidArgument(f"trade_off must be in (0, 1], got {trade_off!r}")
    if len(scores) != len(vectors):
        raise InvalidArgument(f"{len(scores)} scores but {len(vectors)} vectors")
    n = len(scores)
    count = min(count, n)
    if n == 0 or count <= 0:
        return []
    dimension = next((len(v) for v in vectors if v is not None), 1)
    unit = np.zeros((n, dimension))
    for i, vector in enumerate(vectors):
        if vector is not None:
            row = np.asarray(vector, dtype=np.float64)
            norm = np.linalg.norm(row)
            unit[i] = row / norm if norm > 0 else row
    relevance = trade_off * np.asarray(scores, dtype=np.float64)
    closest = np.zeros(n)  # max cosine to the picked items so far
    picked: list[int] = []
    available = np.ones(n, dtype=bool)
    for _ in range(count):
        gain = np.where(available, relevance - (1.0 - trade_off) * closest, -np.inf)
        best = int(np.argmax(gain))  # ties: the earlier (better-ranked) item
        picked.append(best)
        available[best] = False
        closest = np.maximum(closest, unit @ unit[best])
    return picked
