"""``manage.py dnf_run_pipeline``: the pipeline run in this process until it is idle."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from dnf_django.testing import settings_encoders
from workers.inline import InlinePipeline


class Command(BaseCommand):
    help = (
        "Claim what the outbox holds and perform it in this process, on Django's own "
        "connection, with every follow-up task, until nothing is left: no worker and no "
        "Redis. Inside a test it sees (and leaves rolled back) the test's uncommitted "
        "writes; dnf_django.testing runs it. Prints what it did as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default", help="DATABASES alias")
        parser.add_argument(
            "--settings-encoder",
            action="store_true",
            help="embed with the encoder the current settings name, not the installed one",
        )

    def handle(self, *args: Any, **options: Any) -> str:
        alias = options["database"]
        overrides = settings_encoders(alias) if options["settings_encoder"] else {}
        # Django's own connection: a connection of our own would see nothing that a
        # TestCase wrote, since its transaction is never committed.
        connection = connections[alias]
        connection.ensure_connection()
        run = InlinePipeline(connection.connection, spec_overrides=overrides).run()
        return json.dumps({"events": run.events, "tasks": dict(run.tasks), "seconds": run.seconds})
