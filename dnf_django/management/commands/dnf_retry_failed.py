"""``manage.py dnf_retry_failed``: send recorded failures through the pipeline again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connections, transaction

from dnf_core.events import TaskKind
from dnf_core.sqlfiles import load_sql


class Command(BaseCommand):
    help = "Re-enqueue the failures listed in dnf_failure (all, or one feed / task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", help="only this feed id")
        parser.add_argument("--task", choices=[t.value for t in TaskKind], help="only this task")
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        with transaction.atomic(using=alias), connections[alias].cursor() as cur:
            cur.execute(
                load_sql("queries/failures_requeue"),
                {"feed_id": options["feed"], "task": options["task"], "ids": None},
            )
            (count, _) = cur.fetchone()
        self.stdout.write(f"re-enqueued {count} failure(s); running workers pick them up now")
