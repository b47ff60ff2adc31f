"""``manage.py dnf_factors``: rebuild a feed's collaborative basis now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.errors import NeuralFeedError
from dnf_core.events import Task, TaskKind
from dnf_django.endpoints import database_url
from dnf_django.registry import installed_specs
from workers.database import connect
from workers.inline import InlinePipeline


class Command(BaseCommand):
    help = (
        "Rebuild a feed's collaborative basis now, in this process, instead of waiting "
        "for the workers' next scheduled rebuild: learns the basis from every "
        "interaction, folds every liked item into it and rewrites every profile, in one "
        "transaction. Likes keep updating the vectors incrementally either way."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feed", required=True, help="feed id")
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        feed_id, alias = options["feed"], options["database"]
        spec = installed_specs(alias).get(feed_id)
        if spec is None:
            raise CommandError(f"feed {feed_id!r} is not installed: run manage.py migrate")
        if not spec.collaborative_dimension:
            raise CommandError(
                f"feed {feed_id!r} has no collaborative signal (collaborative_dimension 0)"
            )
        try:
            with connect(database_url(alias), autocommit=True) as conn:
                run = InlinePipeline(conn).perform(Task(TaskKind.FACTORS, feed_id, ()))
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"feed {feed_id}: collaborative basis rebuilt in {run.seconds:.1f} s "
            f"({', '.join(f'{n} {kind}' for kind, n in sorted(run.tasks.items()))})"
        )
