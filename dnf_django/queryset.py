"""QuerySets that re-rank a feed's top for variety once it is evaluated.

The QuerySet stays lazy and chainable until then, and keeps the caller's class, so
its custom methods keep working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from dnf_core.diversity import mmr_order


class FeedQuerySetMixin:
    """Mixed into the caller's QuerySet class, so its custom methods keep working."""

    # (trade-off, items to keep, embedding attribute) when the feed re-ranks its top
    # for variety; the query then fetches more than it keeps.
    dnf_diversity: tuple[float, int, str] | None = None

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone.dnf_diversity = self.dnf_diversity
        return clone

    def _fetch_all(self) -> None:
        if getattr(self, "_result_cache", None) is None:
            super()._fetch_all()  # type: ignore[misc]
            if self.dnf_diversity is not None:
                rows: list[Any] = self._result_cache  # type: ignore[has-type]
                self._result_cache = self._diversified(rows)

    def iterator(self, chunk_size: int | None = None) -> Iterator[Any]:
        if self.dnf_diversity is not None:
            # The re-rank needs the whole fetched top at once.
            self._fetch_all()
            yield from self._result_cache
            return
        yield from super().iterator(chunk_size=chunk_size)  # type: ignore[misc]

    async def aiterator(self, chunk_size: int = 2000) -> AsyncIterator[Any]:
        # Django's aiterator reads rows without _fetch_all, which would skip the
        # re-rank: an async caller would get the score order, not the diverse one.
        if self.dnf_diversity is not None:
            await sync_to_async(self._fetch_all)()
            for row in self._result_cache:
                yield row
            return
        async for row in super().aiterator(chunk_size=chunk_size):  # type: ignore[misc]
            yield row

    def _diversified(self, rows: list[Any]) -> list[Any]:
        assert self.dnf_diversity is not None
        trade_off, keep, attribute = self.dnf_diversity
        if not rows or not hasattr(rows[0], "score"):
            return rows[:keep]  # .values() and the like: nothing to re-rank by
        order = mmr_order(
            [row.score for row in rows], [getattr(row, attribute) for row in rows], trade_off, keep
        )
        return [rows[i] for i in order]


@cache
def feed_queryset_class(base: type[QuerySet[Any]]) -> type[QuerySet[Any]]:
    """The caller's QuerySet class with :class:`FeedQuerySetMixin` mixed in (cached)."""
    return type(f"Feed{base.__name__}", (FeedQuerySetMixin, base), {})
