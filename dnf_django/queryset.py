"""QuerySets that finish a feed's answer once it is evaluated: re-rank its top for
variety, and for ``Feed.similar`` tell a missing item from one with no match.

The QuerySet stays lazy and chainable until then, and keeps the caller's class, so
its custom methods keep working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Model, QuerySet

from dnf_core.diversity import mmr_order
from dnf_django.arguments import missing_item


class FeedQuerySetMixin:
    """Mixed into the caller's QuerySet class, so its custom methods keep working."""

    # (trade-off, items to keep, embedding attribute) when the feed re-ranks its top
    # for variety; the query then fetches more than it keeps.
    dnf_diversity: tuple[float, int, str] | None = None
    # Feed.similar: the key of the item the rows are like. Each row gets it as
    # ``dnf_similar_to``, for explain(); an empty answer checks that the item exists.
    dnf_similar_to: Any = None

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone.dnf_diversity = self.dnf_diversity
        clone.dnf_similar_to = self.dnf_similar_to
        return clone

    def _fetch_all(self) -> None:
        if getattr(self, "_result_cache", None) is None:
            super()._fetch_all()  # type: ignore[misc]
            rows: list[Any] = self._result_cache  # type: ignore[has-type]
            if self.dnf_diversity is not None:
                rows = self._result_cache = self._diversified(rows)
            if self.dnf_similar_to is not None:
                self._similar(rows)

    def _similar(self, rows: list[Any]) -> None:
        key = self.dnf_similar_to
        if not rows:
            # The query finds nothing for a key no item has (the source condition is
            # false): one lookup, on empty answers only, tells that from "no match".
            model: Any = self.model  # type: ignore[attr-defined]
            if not model._default_manager.using(self.db).filter(pk=key).exists():  # type: ignore[attr-defined]
                raise missing_item(model, key)
        for row in rows:
            if isinstance(row, Model):
                row.dnf_similar_to = key  # type: ignore[attr-defined]

    def iterator(self, chunk_size: int | None = None) -> Iterator[Any]:
        if self.dnf_diversity is not None or self.dnf_similar_to is not None:
            # The re-rank needs the whole fetched top at once, and so does telling an
            # empty answer's cause.
            self._fetch_all()
            yield from self._result_cache
            return
        yield from super().iterator(chunk_size=chunk_size)  # type: ignore[misc]

    async def aiterator(self, chunk_size: int = 2000) -> AsyncIterator[Any]:
        # Django's aiterator reads rows without _fetch_all, which would skip the
        # re-rank: an async caller would get the score order, not the diverse one.
        if self.dnf_diversity is not None or self.dnf_similar_to is not None:
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
