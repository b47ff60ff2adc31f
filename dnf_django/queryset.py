"""QuerySets that run the feed query with pgvector's search settings applied.

The settings are ``SET LOCAL`` (transaction-scoped), so they must be issued in the
transaction that runs the query: the QuerySet applies them when it is evaluated,
and stays lazy and chainable until then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet

from dnf_core.sqlfiles import load_sql


class FeedQuerySetMixin:
    """Mixed into the caller's QuerySet class, so its custom methods keep working."""

    # (hnsw.iterative_scan, hnsw.ef_search), or None when no vector search runs.
    dnf_search: tuple[str, int] | None = None

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone.dnf_search = self.dnf_search
        return clone

    def _fetch_all(self) -> None:
        if getattr(self, "_result_cache", None) is None:
            with self._search_settings():
                super()._fetch_all()  # type: ignore[misc]

    def iterator(self, chunk_size: int | None = None) -> Iterator[Any]:
        with self._search_settings():
            yield from super().iterator(chunk_size=chunk_size)  # type: ignore[misc]

    @contextmanager
    def _search_settings(self) -> Iterator[None]:
        if self.dnf_search is None:
            yield
            return
        db: str = self.db  # type: ignore[attr-defined]
        scan, ef_search = self.dnf_search
        with transaction.atomic(using=db):
            with connections[db].cursor() as cursor:
                cursor.execute(load_sql("feed/search_settings"), [scan, str(ef_search)])
            yield


@cache
def feed_queryset_class(base: type[QuerySet[Any]]) -> type[QuerySet[Any]]:
    """The caller's QuerySet class with :class:`FeedQuerySetMixin` mixed in (cached)."""
    return type(f"Feed{base.__name__}", (FeedQuerySetMixin, base), {})
