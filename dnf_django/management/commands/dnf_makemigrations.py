"""``manage.py dnf_makemigrations``: write the migrations that install or update feeds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.errors import NeuralFeedError
from dnf_django.migration_writer import pending_migrations
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
            pending = pending_migrations(registered_feeds())
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        if not pending:
            self.stdout.write("No feed changes detected.")
            return
        for migration in pending:
            self.stdout.write(
                f"{migration.app_label}: {migration.path.name} (feed {migration.spec.feed_id})"
            )
            if not (options["check"] or options["dry_run"]):
                migration.path.write_text(migration.source, encoding="utf-8")
        if options["check"]:
            raise CommandError("feed migrations are due: run manage.py dnf_makemigrations")
