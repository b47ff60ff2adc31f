"""The pipeline run in-process on one connection the caller owns: no relay, broker or worker.

The relay claims outbox rows on a connection of its own and the actors take one per
thread; neither can see what a test wrote inside a transaction it never commits
(Django's ``TestCase``). :class:`InlinePipeline` does the same work on the caller's
connection instead: it claims the outbox rows the triggers wrote, plans tasks with the
relay's own :func:`~dnf_core.events.plan_tasks`, and calls the actors' functions
(:data:`workers.actors.HANDLERS`) one after another, follow-up tasks included, until
nothing is left. Each actor's ``conn.transaction()`` becomes a savepoint when the caller
is inside a transaction, so nothing is committed that the caller would not commit.

Meant for tests: a task that fails raises at once instead of being retried, and a task
scheduled for later (relearning collaborative vectors) runs as soon as the immediate
work is done instead of after its delay.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pgvector.psycopg.vector import VectorDumper
from psycopg.types import TypeInfo

from dnf_core.errors import NeuralFeedError
from dnf_core.events import BatchLimits, Task, events_of_row, plan_tasks
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from workers.actors import HANDLERS
from workers.registry import FeedRegistry
from workers.runtime import Runtime

# Rows per claim: the whole outbox is claimed before planning, so the batch size only
# bounds one statement's result.
CLAIM_BATCH = 1000
# A pipeline that keeps producing work after this many tasks is looping (a bug worth a
# clear failure rather than a hung test suite).
MAX_TASKS = 10_000


class PipelineLoopError(NeuralFeedError):
    """The in-process pipeline still had work after :data:`MAX_TASKS` tasks."""


@dataclass
class InlineRun:
    """What one :meth:`InlinePipeline.run` did."""

    # Outbox events claimed (one per key of each captured row).
    events: int = 0
    # Tasks performed, by task kind ("embed", "profiles", ...), follow-ups included.
    tasks: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class _CallerConnection:
    """Hands every actor the caller's connection (the run is single-threaded)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def get(self) -> psycopg.Connection[Any]:
        return self._conn


class _CallerRegistry(FeedRegistry):
    """Specs read on the caller's connection without committing, with overrides applied.

    The worker's registry commits after reading, which on a caller's open transaction
    would commit the caller's work (a test's, which must stay rolled back).
    """

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.overrides = overrides

    def _changed(self, conn: psycopg.Connection[Any]) -> bool:
        # One run reads the registry once; nothing installs feeds meanwhile.
        return False

    def _reload(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            rows = conn.execute(load_sql("queries/registry_specs")).fetchall()
        self._specs = {
            feed_id: dataclasses.replace(
                # Django's connections load jsonb as text (it parses JSON itself).
                FeedSpec.from_dict(json.loads(spec) if isinstance(spec, str) else spec),
                **self.overrides.get(feed_id, {}),
            )
            for feed_id, spec in rows
        }


class InlinePipeline:
    """Runs the whole pipeline on ``conn`` until the outbox and every follow-up are done.

    ``spec_overrides`` replaces fields of installed specs for this pipeline only, per
    feed id (``{"movies": {"encoder": "...HashingEncoder", "model_name": "hashing-384"}}``):
    tests run a feed with a fast encoder although its migration installed a real model.
    A feed run with another encoder than it serves is switched to serve that encoder's
    vectors (in ``conn``'s transaction), so its vectors land in the embedding column.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        spec_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        limits: BatchLimits | None = None,
    ) -> None:
        self.conn = conn
        self.spec_overrides = dict(spec_overrides or {})
        self._vector_type = TypeInfo.fetch(conn, "vector")
        self._queue: deque[Task] = deque()
        self._later: deque[Task] = deque()
        self.runtime = Runtime(
            connections=_CallerConnection(conn),
            send=self._send,
            registry=_CallerRegistry(self.spec_overrides),
            limits=limits or BatchLimits(),
        )

    def run(self) -> InlineRun:
        """Claim every outbox row, perform what it stands for and everything that follows."""
        return self._drain(claim=True)

    def perform(self, task: Task) -> InlineRun:
        """Perform ``task`` and the follow-ups it sends, now, without touching the outbox
        (whose events stay the relay's); scheduled follow-ups run at once too."""
        self._queue.append(task)
        return self._drain(claim=False)

    def _drain(self, *, claim: bool) -> InlineRun:
        started = time.monotonic()
        self._adapt_vectors()
        self._serve_overridden_encoders()
        result = InlineRun()
        while True:
            if claim and not self._queue:
                result.events += self._claim()
            if not self._queue and self._later:
                # Scheduled work runs once the immediate work is done, as its delay
                # intends, just without waiting for the clock.
                self._queue.extend(self._later)
                self._later.clear()
            if not self._queue:
                break
            if sum(result.tasks.values()) >= MAX_TASKS:
                raise PipelineLoopError(
                    f"the pipeline still had work after {MAX_TASKS} tasks: {result.tasks}"
                )
            task = self._queue.popleft()
            HANDLERS[task.kind](self.runtime, task.feed_id, list(task.keys))
            result.tasks[task.kind.value] += 1
        result.seconds = time.monotonic() - started
        return result

    def pending_events(self) -> int:
        """Outbox rows the triggers wrote that no run has claimed yet."""
        row = self.conn.execute(load_sql("queries/outbox_count")).fetchone()
        return int(row[0]) if row else 0

    def _send(self, task: Task) -> None:
        (self._later if task.delay_s > 0 else self._queue).append(task)

    def _claim(self) -> int:
        """Move the whole outbox into the queue, coalesced as the relay would; events moved."""
        events = []
        with self.conn.transaction():
            while rows := self.conn.execute(
                load_sql("queries/outbox_claim"), {"limit": CLAIM_BATCH}
            ).fetchall():
                events += [event for row in rows for event in events_of_row(*row)]
                self.conn.execute(
                    load_sql("queries/outbox_delete"), {"ids": [row[0] for row in rows]}
                )
        self._queue.extend(plan_tasks(events, self.runtime.limits))
        return len(events)

    def _adapt_vectors(self) -> None:
        """Let the actors pass numpy vectors as parameters on the caller's connection.

        Dumpers only: the caller (Django) keeps reading vectors as it always did, where
        :func:`pgvector.psycopg.register_vector` would also change what its queries
        return.
        """
        info = self._vector_type
        if info is None:
            raise NeuralFeedError("the pgvector extension is not installed in this database")
        info.register(self.conn)
        dumper = type("InlineVectorDumper", (VectorDumper,), {"oid": info.oid})
        self.conn.adapters.register_dumper("numpy.ndarray", dumper)

    def _serve_overridden_encoders(self) -> None:
        """Record the overriding encoder as the one each overridden feed serves."""
        for feed_id in self.spec_overrides:
            try:
                spec = self.runtime.registry.get(self.conn, feed_id)
            except NeuralFeedError:
                continue  # not installed in this database: nothing to serve
            with self.conn.transaction():
                self.conn.execute(
                    load_sql("queries/embedding_model_set"),
                    {"feed_id": feed_id, "identity": spec.embedding_identity},
                )
