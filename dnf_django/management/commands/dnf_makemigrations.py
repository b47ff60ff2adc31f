"""``manage.py dnf_makemigrations``: write the migrations that install or update feeds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.migrations.loader import MigrationLoader

from dnf_core.errors import NeuralFeedError
from dnf_django.migration_writer import pending_migrations, unmigrated
from dnf_django.registry import registered_feeds


class Command(BaseCommand):
    help = "Write migrations installing the triggers, index and registry row of changed feeds."
    # The checks warn about exactly what this command fixes; errors surface below.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="exit 1 if a migration is due, write nothing"
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would be written")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            feeds = {feed.get_spec().feed_id: feed for feed in registered_feeds()}
            pending = pending_migrations(list(feeds.values()))
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        if not pending:
            self.stdout.write("No feed changes detected.")
            return
        # A feed migration depends on the content app's newest migration and runs SQL on
        # the feed's tables: written before their migrations, it would run first and fail.
        state = MigrationLoader(None, ignore_no_migrations=True).project_state()
        waiting = {m.spec.feed_id: unmigrated(feeds[m.spec.feed_id], state) for m in pending}
        if any(waiting.values()):
            lines = [
                f"feed {feed_id!r} reads {', '.join(missing)}, which no migration creates yet"
                for feed_id, missing in waiting.items()
                if missing
            ]
            apps = sorted(
                {label.split(".")[0] for missing in waiting.values() for label in missing}
            )
            raise CommandError(
                "; ".join(lines) + f": run python manage.py makemigrations {' '.join(apps)} first"
            )
        for migration in pending:
            self.stdout.write(
                f"{migration.app_label}: {migration.path.name} (feed {migration.spec.feed_id})"
            )
            if not (options["check"] or options["dry_run"]):
                migration.path.write_text(migration.source, encoding="utf-8")
        if options["check"]:
            raise CommandError("feed migrations are due: run manage.py dnf_makemigrations")
