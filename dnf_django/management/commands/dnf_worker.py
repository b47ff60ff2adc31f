"""``manage.py dnf_worker``: the worker, with its URLs taken from Django settings."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_core.errors import NeuralFeedError
from dnf_django.endpoints import database_url, redis_url
from workers.cli import add_arguments, serve
from workers.config import Mode, WorkerConfig


class Command(BaseCommand):
    help = "Run the relay and the Dramatiq actors (Postgres from DATABASES, Redis from settings)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)
        parser.add_argument(
            "--database", default="default", help="DATABASES alias (default: default)"
        )
        parser.add_argument(
            "--session-database",
            help="DATABASES alias for LISTEN and the backfill lock when --database goes "
            "through a transaction pooler (default: the same as --database)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        try:
            serve(
                WorkerConfig(
                    database_url=database_url(options["database"]),
                    session_database_url=(
                        database_url(options["session_database"])
                        if options["session_database"]
                        else None
                    ),
                    redis_url=redis_url(),
                    mode=Mode(options["mode"]),
                    threads=options["threads"],
                    processes=options["processes"],
                    poll_interval=options["poll_interval"],
                    coalesce=options["coalesce"],
                    broker_wakeup=options["broker_wakeup"],
                    idle_poll=options["idle_poll"],
                    max_retries=options["max_retries"],
                    heartbeat_timeout=options["heartbeat_timeout"],
                    maintenance_chance=options["maintenance_chance"],
                    backfill=options["backfill"],
                    health_file=options["health_file"],
                )
            )
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
