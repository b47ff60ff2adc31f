"""``manage.py dnf_backfill``: send existing items and interactions through the pipeline."""

from __future__ import annotations

import sys
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from dnf_core.errors import NeuralFeedError
from dnf_django.endpoints import database_url
from dnf_django.registry import installed_specs, registered_feeds
from workers.backfill import DEFAULT_BATCH, Progress, backfill, feed_lock
from workers.database import connect


class Command(BaseCommand):
    help = (
        "Queue every existing item whose embedding is missing or stale, and every "
        "interaction, so running workers build embeddings, profiles and counts. "
        "Resumable: an interrupted run continues where it stopped. Workers also run it "
        "by themselves at start for feeds whose backfill never finished."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", action="append", help="only this feed id (repeatable)")
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per statement")
        parser.add_argument("--restart", action="store_true", help="walk from the start again")
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        feeds = {feed.get_spec().feed_id: feed for feed in registered_feeds()}
        wanted = options["feed"] or list(feeds)
        unknown = sorted(set(wanted) - set(feeds))
        if unknown:
            raise CommandError(f"unknown feed(s) {unknown}; known: {sorted(feeds)}")
        for feed_id in wanted:
            bars: dict[str, tqdm[Any]] = {}

            def report(progress: Progress, bars: dict[str, tqdm[Any]] = bars) -> None:
                bar = bars.get(progress.phase)
                if bar is None:
                    bar = bars[progress.phase] = tqdm(
                        total=progress.total,
                        initial=0,
                        unit="row",
                        desc=f"{progress.feed_id} {progress.phase}",
                        file=sys.stderr,
                    )
                bar.update(progress.scanned - bar.n)
                bar.set_postfix(queued=progress.queued, refresh=False)

            spec = installed_specs(options["database"]).get(feed_id)
            if spec is None:
                raise CommandError(f"feed {feed_id!r} is not installed: run manage.py migrate")
            try:
                with (
                    connect(database_url(options["database"]), autocommit=True) as conn,
                    feed_lock(conn, feed_id) as locked,
                ):
                    if not locked:
                        raise CommandError(
                            f"feed {feed_id!r} is being backfilled by a worker right now; "
                            "python manage.py dnf_status shows its progress"
                        )
                    finals = backfill(
                        conn,
                        spec,
                        batch=options["batch"],
                        restart=options["restart"],
                        report=report,
                    )
            except (NeuralFeedError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
            except psycopg.Error as exc:
                raise CommandError(f"feed {feed_id!r}: cannot backfill: {exc}") from exc
            finally:
                for bar in bars.values():
                    bar.close()
            for final in finals:
                self.stdout.write(
                    f"{feed_id} {final.phase}: {final.scanned} scanned, {final.queued} queued"
                )
        self.stdout.write("running workers embed and count them now (see the outbox backlog)")
