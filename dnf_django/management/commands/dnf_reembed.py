"""``manage.py dnf_reembed``: re-embed a feed with its new model while it keeps serving.

Also moves a feed to another backend of its model (``ENCODER_BACKEND``): recorded
first, then every item re-embedded in place (see :mod:`workers.reembed`).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from dnf_core.encoders.backends import backend_of, same_model
from dnf_core.errors import NeuralFeedError
from dnf_django.endpoints import database_url
from dnf_django.model_changes import MIGRATE, dimension_steps, reembed_command
from dnf_django.registry import installed_specs, registered_feeds
from workers.database import connect
from workers.reembed import (
    DEFAULT_BATCH,
    POLL_S,
    Progress,
    column_dimension,
    in_place_progress,
    move_backend,
    queue_missing,
    queue_stale,
    serving_identity,
    swap,
    wait_complete,
)


class Command(BaseCommand):
    help = (
        "Re-embed every item of a feed with the model it is installed with, while the "
        "feed keeps serving the old vectors; then swap the new vectors in, in one "
        "transaction, and let profiles and rank vectors follow. Running workers do the "
        "encoding. Resumable: vectors made before an interruption are kept. A feed whose "
        "model is unchanged but whose ENCODER_BACKEND is not the one it was embedded "
        "with moves to it: every item is re-embedded in place, the feed serving meanwhile."
    )
    # The checks warn about exactly the state this command resolves.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", required=True, help="feed id to re-embed")
        parser.add_argument("--database", default="default", help="DATABASES alias")
        parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per statement")
        parser.add_argument("--poll", type=float, default=POLL_S, help="seconds between counts")
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="stop waiting after this many seconds (rerun to resume)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._reembed(options)
        except (NeuralFeedError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _reembed(self, options: dict[str, Any]) -> None:
        feed_id = options["feed"]
        feeds = {feed.get_spec().feed_id: feed for feed in registered_feeds()}
        feed = feeds.get(feed_id)
        if feed is None:
            raise CommandError(f"unknown feed {feed_id!r}; known: {sorted(feeds)}")
        declared = feed.get_spec()
        installed = installed_specs(options["database"])
        spec = installed.get(feed_id)
        if spec is None or spec.fingerprint != declared.fingerprint:
            raise CommandError(
                f"feed {feed_id!r} is not installed as declared; run first: {MIGRATE}"
            )
        with connect(database_url(options["database"]), autocommit=True) as conn:
            with conn.transaction():
                serving = serving_identity(conn, spec)
            sharing = [
                other
                for other in installed.values()
                if other.feed_id != feed_id
                and (other.content_table, other.embedding_column)
                == (spec.content_table, spec.embedding_column)
            ]
            if same_model(serving, spec.embedding_identity):
                self._move_backend(conn, spec, serving, sharing, options)
                return
            if column_dimension(conn, spec) != spec.dimension:
                raise CommandError(
                    f"feed {feed_id!r}: {dimension_steps(feed, spec, serving)}; "
                    f"{spec.content_table}.{spec.embedding_column} is not vector("
                    f"{spec.dimension}) yet"
                )
            self.stdout.write(
                f"feed {feed_id!r}: re-embedding from {serving} to {spec.embedding_identity}; "
                "it serves the old vectors until the swap"
            )
            queued = queue_missing(conn, spec, batch=options["batch"])
            self.stdout.write(f"{queued} items queued for the workers")
            final = self._wait(conn, spec, options)
            if final.pending:
                raise CommandError(
                    f"stopped with {final.pending} of {final.total} items still waiting for "
                    f"their new vector; the feed still serves {serving}. Resume with: "
                    f"{reembed_command(feed_id)}"
                )
            if final.failed:
                self.stderr.write(
                    f"{final.failed} items were rejected by the new encoder (see dnf_failure): "
                    "they lose their old vector and are queued again"
                )
            result = swap(conn, spec, sharing)
        self.stdout.write(
            f"swapped in {result.swapped} vectors; feed(s) {', '.join(result.feeds)} now serve "
            f"{spec.embedding_identity}. {result.requeued} items were queued to embed again; "
            "profiles and rank vectors follow as the workers handle the queued events"
        )

    def _move_backend(
        self, conn: Any, spec: Any, serving: str, sharing: list[Any], options: dict[str, Any]
    ) -> None:
        """Move the feed to its declared backend of the model it serves, in place."""
        feed_id, identity, backend = spec.feed_id, spec.embedding_identity, spec.encoder_backend
        if serving == identity:
            state = in_place_progress(conn, spec)
            if state.pending == 0:
                self.stdout.write(
                    f"feed {feed_id!r} already serves vectors of {serving}; nothing to re-embed"
                )
                return
            self.stdout.write(
                f"feed {feed_id!r} serves {identity}, but {state.pending} items have no vector "
                "of it for their current text yet (an interrupted move, or items still "
                "queued): queuing them"
            )
        else:
            move_backend(conn, spec, sharing)
            self.stdout.write(
                f"feed {feed_id!r}: moving from the {backend_of(serving)} backend to {backend} "
                f"(same model): workers embed with {backend} from now on and re-embed every "
                "item in place; the feed keeps serving meanwhile"
            )
        queued = queue_stale(conn, spec, batch=options["batch"])
        self.stdout.write(f"{queued} items queued for the workers")
        final = self._wait(conn, spec, options, in_place=True)
        if final.pending:
            raise CommandError(
                f"stopped with {final.pending} of {final.total} items still to re-embed with "
                f"{backend}; until then the feed serves vectors of both backends (the same "
                f"model). Resume with: {reembed_command(feed_id)}"
            )
        if final.failed:
            self.stderr.write(
                f"{final.failed} items were rejected by the {backend} encoder (see dnf_failure); "
                "they keep their old vector"
            )
        feeds = ", ".join([feed_id, *(other.feed_id for other in sharing)])
        self.stdout.write(
            f"feed(s) {feeds} now serve {identity}: {final.done} of {final.total} items "
            f"embedded with {backend}"
        )

    def _wait(
        self, conn: Any, spec: Any, options: dict[str, Any], *, in_place: bool = False
    ) -> Progress:
        bar: tqdm[Any] | None = None

        def report(state: Progress) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(
                    total=state.total,
                    unit="item",
                    desc=f"{state.feed_id} re-embedding",
                    file=sys.stderr,
                )
            bar.total = state.total
            bar.update(state.done - bar.n)
            bar.set_postfix(failed=state.failed, refresh=False)

        try:
            return wait_complete(
                conn,
                spec,
                report=report,
                poll_s=options["poll"],
                timeout_s=options["timeout"],
                batch=options["batch"],
                in_place=in_place,
            )
        finally:
            if bar is not None:
                bar.close()
