"""Feed specs as migrations stored them in ``dnf_feed``; workers need nothing else."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql


class FeedRegistry:
    """Caches specs and reloads them when a feed is unknown or the cache is old.

    A migration may install a feed while workers run; reloading on a miss picks it up
    without a restart, and the age limit picks up changed specs.
    """

    def __init__(self, max_age: float = 30.0) -> None:
        self.max_age = max_age
        self._specs: dict[str, FeedSpec] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection[Any], feed_id: str) -> FeedSpec:
        """The spec of ``feed_id``; ConfigurationError if no migration installed it."""
        with self._lock:
            stale = time.monotonic() - self._loaded_at > self.max_age
            if stale or feed_id not in self._specs:
                self._reload(conn)
            try:
                return self._specs[feed_id]
            except KeyError:
                raise ConfigurationError(
                    f"feed {feed_id!r} is not installed in this database (no row in dnf_feed); "
                    "run dnf_makemigrations and migrate"
                ) from None

    def all(self, conn: psycopg.Connection[Any]) -> list[FeedSpec]:
        """Every installed spec, freshly read, in feed id order."""
        with self._lock:
            self._reload(conn)
            return [self._specs[feed_id] for feed_id in sorted(self._specs)]

    def _reload(self, conn: psycopg.Connection[Any]) -> None:
        with conn.cursor() as cur:
            rows = cur.execute(load_sql("queries/registry_specs")).fetchall()
        conn.commit()
        self._specs = {feed_id: FeedSpec.from_dict(spec) for feed_id, spec in rows}
        self._loaded_at = time.monotonic()
