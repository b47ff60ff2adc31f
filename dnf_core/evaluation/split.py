"""The temporal hold-out: each user's latest likes are what the evaluation predicts.

Plain Python data in, plain Python data out: likes are ``(user, item, order)``
tuples, where ``order`` is anything comparable (a timestamp, an id) that says which
like came later.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dnf_core.errors import EvaluationError

Like = tuple[Hashable, Hashable, Any]


@dataclass(frozen=True)
class HoldOut:
    """Training and held-out likes, each user's oldest first.

    ``train`` has every user with likes (users with too few likes to be evaluated
    keep all theirs: they are part of what a live system would have seen);
    ``test`` has the evaluated users only. ``held_out_rows`` are the positions, in
    the input sequence, of the held-out likes and of repeated likes (the same user
    and item again), so a caller can copy "everything else" as the training data.
    """

    train: dict[Hashable, list[Hashable]]
    test: dict[Hashable, list[Hashable]]
    held_out_rows: frozenset[int] = field(repr=False)

    @property
    def evaluated(self) -> list[Hashable]:
        """The evaluated users, in the order their likes first appeared."""
        return list(self.test)

    def item_counts(self) -> Counter[Hashable]:
        """Training likes per item, over every user: the popularity a live system had."""
        return Counter(item for items in self.train.values() for item in items)

    def sizes(self) -> dict[str, int]:
        """Counts for a report: users, evaluated users, training and held-out likes."""
        return {
            "users": len(self.train),
            "evaluated_users": len(self.test),
            "train_likes": sum(len(items) for items in self.train.values()),
            "held_out_likes": sum(len(items) for items in self.test.values()),
        }


def temporal_split(likes: Sequence[Like], *, min_likes: int = 10, holdout: float = 0.2) -> HoldOut:
    """Hold out the last ``floor(holdout * n)`` of each user's ``n`` likes by ``order``.

    Users with fewer than ``min_likes`` likes are not evaluated. Equal ``order``
    values keep the input order; a user liking the same item twice counts once (the
    first time).
    """
    if isinstance(min_likes, bool) or not isinstance(min_likes, int) or min_likes < 1:
        raise EvaluationError(f"min_likes must be a positive integer, got {min_likes!r}")
    if not 0 < holdout < 1:
        raise EvaluationError(f"holdout must be a fraction between 0 and 1, got {holdout!r}")
    by_user: dict[Hashable, list[tuple[Any, int, Hashable]]] = {}
    seen: set[tuple[Hashable, Hashable]] = set()
    repeated: set[int] = set()
    for row, (user, item, order) in enumerate(likes):
        if (user, item) in seen:
            repeated.add(row)
            continue
        seen.add((user, item))
        by_user.setdefault(user, []).append((order, row, item))
    train: dict[Hashable, list[Hashable]] = {}
    test: dict[Hashable, list[Hashable]] = {}
    held: set[int] = set(repeated)
    for user, rows in by_user.items():
        try:
            rows.sort(key=lambda r: (r[0], r[1]))
        except TypeError as exc:
            raise EvaluationError(f"user {user!r}: like orders are not comparable: {exc}") from None
        cut = len(rows) - math.floor(holdout * len(rows))
        if len(rows) < min_likes or cut == len(rows):
            train[user] = [item for _, _, item in rows]
            continue
        train[user] = [item for _, _, item in rows[:cut]]
        test[user] = [item for _, _, item in rows[cut:]]
        held.update(row for _, row, _ in rows[cut:])
    return HoldOut(train=train, test=test, held_out_rows=frozenset(held))
