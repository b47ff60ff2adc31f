"""``manage.py dnf_grants PROCESS ROLE``: the GRANTs a process needs, for the installed feeds."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.errors import NeuralFeedError
from dnf_core.grants import PROCESSES, grant_sql
from dnf_django.registry import installed_specs


class Command(BaseCommand):
    help = (
        "Print the GRANT statements that give ROLE the least privileges PROCESS needs "
        "(web, relay or worker) for the feeds installed in the database. Run them as "
        "the tables' owner (the role your migrations run as)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("process", choices=PROCESSES, help="which process the role runs")
        parser.add_argument("role", help="the Postgres role to grant to")
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        specs = installed_specs(options["database"])
        if not specs:
            raise CommandError("no feed is installed in this database: run migrate first")
        try:
            sql = grant_sql(options["process"], options["role"], specs.values())
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(sql)
