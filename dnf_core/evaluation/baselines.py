"""Reference rankers computed on the same split, in numpy: what a feed must beat.

They are yardsticks, not the product: the feed itself is always ranked by the real
pipeline. Each returns, per evaluated user, the ``limit`` best items (training
likes left out), best first; ties go to the item listed first in ``items``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from dnf_core.errors import EvaluationError
from dnf_core.evaluation.split import HoldOut

Rankings = dict[Hashable, list[Hashable]]

# django-neural-feed 1.x's default weights; freshness is left out because offline
# datasets rarely date their items, and a constant term ranks nothing.
UPSTREAM_SIMILARITY = 0.6
UPSTREAM_POPULARITY = 0.2


def _top(
    split: HoldOut, items: Sequence[Hashable], limit: int, scores_of: dict[Hashable, np.ndarray]
) -> Rankings:
    index = {item: i for i, item in enumerate(items)}
    out: Rankings = {}
    for user in split.evaluated:
        scores = np.array(scores_of[user], dtype=np.float64)
        scores[[index[i] for i in split.train[user] if i in index]] = -np.inf
        order = np.argsort(-scores, kind="stable")
        order = order[np.isfinite(scores[order])][:limit]
        out[user] = [items[i] for i in order]
    return out


def _check(items: Sequence[Hashable], limit: int) -> None:
    if not items:
        raise EvaluationError("the catalogue is empty")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EvaluationError(f"limit must be a positive integer, got {limit!r}")


def random_rankings(
    split: HoldOut, items: Sequence[Hashable], limit: int, seed: int = 0
) -> Rankings:
    """A uniformly random order per user (seeded, so reruns agree)."""
    _check(items, limit)
    rng = np.random.default_rng(seed)
    return _top(split, items, limit, {u: rng.random(len(items)) for u in split.evaluated})


def popularity_scores(split: HoldOut, items: Sequence[Hashable]) -> np.ndarray:
    """``log(1 + n_i) / log(1 + max n)`` over training likes: the feed's popularity signal."""
    counts = split.item_counts()
    n = np.array([counts.get(item, 0) for item in items], dtype=np.float64)
    top = n.max() if len(n) else 0.0
    return np.log1p(n) / np.log1p(top) if top > 0 else n


def popularity_rankings(split: HoldOut, items: Sequence[Hashable], limit: int) -> Rankings:
    """The most liked items in training, the same list for everyone."""
    _check(items, limit)
    scores = popularity_scores(split, items)
    return _top(split, items, limit, dict.fromkeys(split.evaluated, scores))


def upstream_rankings(
    split: HoldOut,
    items: Sequence[Hashable],
    vectors: np.ndarray,
    limit: int,
    *,
    window: int = 20,
    similarity: float = UPSTREAM_SIMILARITY,
    popularity: float = UPSTREAM_POPULARITY,
) -> Rankings:
    """django-neural-feed's default formula: ``0.6 cos(profile, item) + 0.2 popularity``.

    ``vectors`` are the items' embeddings, one row per item of ``items`` (a row of
    zeros for an item without one); the profile is the L2-normalized mean of the
    vectors of the user's last ``window`` training likes.
    """
    _check(items, limit)
    if vectors.ndim != 2 or vectors.shape[0] != len(items):
        raise EvaluationError(f"need one vector per item: {vectors.shape} for {len(items)} items")
    index = {item: i for i, item in enumerate(items)}
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    embedded = norms[:, 0] > 0
    pop = popularity * popularity_scores(split, items)
    scores: dict[Hashable, np.ndarray] = {}
    for user in split.evaluated:
        # As the workers do: only embedded items enter a profile.
        liked = [index[i] for i in split.train[user] if i in index and embedded[index[i]]]
        liked = liked[-window:]
        profile = unit[liked].mean(axis=0) if liked else np.zeros(unit.shape[1])
        size = np.linalg.norm(profile)
        sim = unit @ (profile / size) if size > 0 else np.zeros(len(items))
        scores[user] = similarity * sim + pop
    return _top(split, items, limit, scores)
