"""Collaborative item vectors from a feed's interactions: a low-rank item-kNN.

For the 0/1 user-item matrix ``X`` with item counts ``n``, ``X·diag(n)^-1/2`` has the
cosine similarity of items' co-interactions as its Gram matrix. Its truncated SVD
``U·S·V^T`` gives item vectors ``V·S`` whose inner products are the best rank-r
approximation of that similarity, so a profile built as the mean of a user's liked
items' vectors scores like item-kNN does (sum of similarities to the liked items).
Measured on MovieLens (docs/quality-study.md): rank 256 of this beats plain PureSVD
and matches EASE, and it needs one vector per item.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix, diags
from scipy.sparse.linalg import svds


def learn_factors(
    user_keys: Sequence[str], item_keys: Sequence[str], dimension: int
) -> dict[str, np.ndarray]:
    """One vector of ``dimension`` floats per item that has interactions.

    ``user_keys[i]`` interacted with ``item_keys[i]`` (repeats count once). Vectors
    are divided by the largest item norm, so against a unit profile the inner product
    lies in [-1, 1]; with fewer distinct users or items than ``dimension + 1`` the
    rank is what the data allows and the rest is zeros. No interactions, no vectors.
    """
    if len(user_keys) != len(item_keys):
        raise ValueError(f"{len(user_keys)} user keys but {len(item_keys)} item keys")
    if dimension < 1 or not user_keys:
        return {}
    users, user_index = np.unique(np.asarray(user_keys, dtype=object), return_inverse=True)
    items, item_index = np.unique(np.asarray(item_keys, dtype=object), return_inverse=True)
    matrix = csr_matrix(
        (np.ones(len(user_index)), (user_index, item_index)), shape=(len(users), len(items))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    scaled = matrix @ diags(1.0 / np.sqrt(counts))
    rank = min(dimension, min(scaled.shape) - 1)
    vectors = np.zeros((len(items), dimension), dtype=np.float64)
    if rank >= 1:
        # A fixed start vector: the same interactions give the same factors.
        start = np.ones(min(scaled.shape)) / np.sqrt(min(scaled.shape))
        _, values, right = svds(scaled.astype(np.float64), k=rank, v0=start)
        vectors[:, :rank] = right.T * values
    largest = float(np.linalg.norm(vectors, axis=1).max(initial=0.0))
    if largest > 0:
        vectors /= largest
    # Round-off from the solver, not signal; and below what a halfvec can hold.
    vectors[np.abs(vectors) < 1e-7] = 0.0
    return {str(key): row.astype(np.float32) for key, row in zip(items, vectors, strict=True)}
