"""Ranking metrics of the offline evaluation, as pure functions of ranked lists.

A ranking is a sequence of items, best first, with the user's training likes
already left out; ``relevant`` is the user's held-out likes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from dnf_core.errors import EvaluationError


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise EvaluationError(f"k must be a positive integer, got {k!r}")


def _hits(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> list[bool]:
    _check_k(k)
    return [item in relevant for item in ranked[:k]]


def hit_rate(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """1.0 if any relevant item is in the top ``k``, else 0.0."""
    return 1.0 if any(_hits(ranked, relevant, k)) else 0.0


def ndcg(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Binary-relevance NDCG@k: DCG over the ideal DCG of ``min(|relevant|, k)`` hits."""
    if not relevant:
        raise EvaluationError("NDCG needs at least one relevant item")
    dcg = sum(
        1.0 / math.log2(rank + 2) for rank, hit in enumerate(_hits(ranked, relevant, k)) if hit
    )
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


def recall(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Relevant items in the top ``k`` over all relevant items (not capped at ``k``)."""
    if not relevant:
        raise EvaluationError("recall needs at least one relevant item")
    return sum(_hits(ranked, relevant, k)) / len(relevant)


def coverage(rankings: Iterable[Sequence[Hashable]], catalogue_size: int, k: int) -> float:
    """Distinct items in any top ``k`` over the catalogue size."""
    _check_k(k)
    if catalogue_size < 1:
        raise EvaluationError(f"catalogue size must be positive, got {catalogue_size!r}")
    shown = {item for ranked in rankings for item in ranked[:k]}
    return len(shown) / catalogue_size


def cold_share(ranked: Sequence[Hashable], warm: Collection[Hashable], k: int) -> float:
    """Share of the top-``k`` slots given to items outside ``warm`` (no interaction yet).

    An empty list has no slots and scores 0.
    """
    _check_k(k)
    top = ranked[:k]
    return sum(item not in warm for item in top) / len(top) if top else 0.0


@dataclass(frozen=True)
class Metrics:
    """Metrics of one ranker over the evaluated users (per-user metrics averaged)."""

    hit_rate: float
    ndcg: float
    recall: float
    coverage: float
    cold_share: float
    users: int


def summarize(
    rankings: Mapping[Hashable, Sequence[Hashable]],
    test: Mapping[Hashable, Collection[Hashable]],
    *,
    warm: Collection[Hashable],
    catalogue_size: int,
    k: int = 10,
    recall_k: int = 20,
) -> Metrics:
    """HR@k, NDCG@k, Recall@recall_k, coverage@k and cold share@k of ``rankings``.

    Every user of ``test`` must have a ranking (an empty one counts as all misses).
    """
    missing = [user for user in test if user not in rankings]
    if missing:
        raise EvaluationError(
            f"{len(missing)} evaluated users have no ranking, e.g. {missing[0]!r}"
        )
    if not test:
        raise EvaluationError("no evaluated users")
    n = len(test)
    return Metrics(
        hit_rate=sum(hit_rate(rankings[u], held, k) for u, held in test.items()) / n,
        ndcg=sum(ndcg(rankings[u], held, k) for u, held in test.items()) / n,
        recall=sum(recall(rankings[u], held, recall_k) for u, held in test.items()) / n,
        coverage=coverage((rankings[u] for u in test), catalogue_size, k),
        cold_share=sum(cold_share(rankings[u], warm, k) for u in test) / n,
        users=n,
    )
