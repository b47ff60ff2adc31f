"""Run the feed pipeline synchronously inside your tests: no worker process, no Redis.

The real triggers capture your test's writes into the outbox as in production; running
the pipeline claims those rows and performs the actors' own code in this process, on
the test's database connection, until everything that follows is done: items
embedded, profiles, counts, rank and collaborative vectors written. Because it uses
the test's own connection, it sees what a ``TestCase`` wrote in its uncommitted
transaction, and what it writes is rolled back with the test.

Feeds run with the encoder of the *current* settings, not the one their migration
installed: test settings that say ``"ENCODER_CLASS": "dnf_core.encoders.HashingEncoder"``
and ``"MODEL_NAME": "hashing-384"`` make every test embed in microseconds, without the
model. See docs/testing.md.

- :func:`run_pipeline` runs it once; ``with FeedPipeline(): ...`` runs it when the
  block ends;
- :class:`NeuralFeedTestMixin` gives a ``TestCase`` or ``TransactionTestCase``
  ``self.neural_feed``;
- the pytest plugin :mod:`dnf_django.testing.pytest` gives pytest-django tests a
  ``neural_feed`` fixture.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from django.core.management import call_command
from django.db import connections

from dnf_core.sqlfiles import load_sql
from dnf_django.registry import installed_specs, registered_feeds

__all__ = [
    "FeedPipeline",
    "NeuralFeedTestMixin",
    "PipelineRun",
    "run_pipeline",
    "settings_encoders",
]


@dataclass
class PipelineRun:
    """What one run did: outbox events claimed, tasks performed by kind, seconds."""

    events: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def settings_encoders(using: str = "default") -> dict[str, dict[str, Any]]:
    """Per feed id, the encoder and model of the current settings, where they differ
    from what the feed's migration installed in database ``using``."""
    installed = installed_specs(using)
    overrides: dict[str, dict[str, Any]] = {}
    for feed in registered_feeds():
        spec = feed.get_spec()
        current = installed.get(spec.feed_id)
        if current is not None and (current.encoder, current.model_name) != (
            spec.encoder,
            spec.model_name,
        ):
            overrides[spec.feed_id] = {"encoder": spec.encoder, "model_name": spec.model_name}
    return overrides


class FeedPipeline:
    """The pipeline of database ``using``, run in-process on Django's connection.

    ``run()`` performs what the outbox holds and everything that follows; used as a
    context manager, it runs when the block ends without an exception. With
    ``settings_encoder`` (the default), feeds embed with the encoder the current
    settings name (:func:`settings_encoders`).
    """

    def __init__(self, using: str = "default", *, settings_encoder: bool = True) -> None:
        self.using = using
        self.settings_encoder = settings_encoder

    def run(self) -> PipelineRun:
        """Run the pipeline until the outbox and every follow-up task are done.

        Returns what it did (events claimed, tasks by kind). A task that fails raises
        here, where a worker would retry it. The work itself is the
        ``dnf_run_pipeline`` command's: the actors' code is the worker's, which only
        commands import, so a web process that imports this module loads none of it.
        """
        flags = ["--settings-encoder"] if self.settings_encoder else []
        out = call_command(
            "dnf_run_pipeline", "--database", self.using, *flags, stdout=io.StringIO()
        )
        done = json.loads(out)
        return PipelineRun(done["events"], Counter(done["tasks"]), done["seconds"])

    def pending(self) -> int:
        """Outbox events captured and not processed yet (rows, one per statement)."""
        with connections[self.using].cursor() as cursor:
            cursor.execute(load_sql("queries/outbox_count"))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def __enter__(self) -> FeedPipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A block that failed is reported as it failed, not buried under the
        # pipeline's reaction to its half-done writes.
        if exc_type is None:
            self.run()


def run_pipeline(using: str = "default") -> PipelineRun:
    """Run database ``using``'s pipeline once, in-process (see :class:`FeedPipeline`)."""
    return FeedPipeline(using).run()


class NeuralFeedTestMixin:
    """For ``TestCase`` and ``TransactionTestCase``: ``self.neural_feed.run()``.

    ``neural_feed_database`` names the database alias whose pipeline runs.
    """

    neural_feed_database = "default"

    @property
    def neural_feed(self) -> FeedPipeline:
        """The pipeline of :attr:`neural_feed_database`."""
        return FeedPipeline(self.neural_feed_database)
