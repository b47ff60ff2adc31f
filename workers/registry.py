"""Feed specs as migrations stored them in ``dnf_feed``; workers need nothing else."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql


class FeedRegistry:
    """Caches specs and reloads them whenever the installed ones changed.

    A migration may install or change a feed while workers run. Before each spec it
    hands out, the registry reads a digest of every installed spec (one small query)
    and reloads on a difference, so a task enqueued after a migration committed is
    always handled with the spec that migration installed (a profile window changed,
    say, whose re-walk must not recompute profiles with the old one).
    """

    def __init__(self) -> None:
        self._specs: dict[str, FeedSpec] = {}
        self._stamp: str | None = None
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection[Any], feed_id: str) -> FeedSpec:
        """The spec of ``feed_id``; ConfigurationError if no migration installed it."""
        with self._lock:
            if feed_id not in self._specs or self._changed(conn):
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

    def _changed(self, conn: psycopg.Connection[Any]) -> bool:
        (stamp,) = conn.execute(load_sql("queries/registry_stamp")).fetchone() or (None,)
        conn.commit()
        return stamp != self._stamp

    def _reload(self, conn: psycopg.Connection[Any]) -> None:
        with conn.cursor() as cur:
            # The digest first: a change between the two reads makes the next task
            # reload again, never keeps old specs under a new digest.
            (self._stamp,) = cur.execute(load_sql("queries/registry_stamp")).fetchone() or (None,)
            rows = cur.execute(load_sql("queries/registry_specs")).fetchall()
        conn.commit()
        self._specs = {feed_id: FeedSpec.from_dict(spec) for feed_id, spec in rows}
