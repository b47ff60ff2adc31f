"""``manage.py dnf_status``: how far behind each feed is; exits 1 when it lags."""

from __future__ import annotations

import json
from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from dnf_core.queries import feed_query
from dnf_django.endpoints import redis_url
from dnf_django.registry import installed_specs
from workers.backlog import pending_messages
from workers.heartbeat import last_heartbeat_age

COLUMNS = (
    "outbox_events",
    "oldest_event_s",
    "items",
    "items_never_embedded",
    "users_with_interactions",
    "profiles",
    "failures",
)


class Command(BaseCommand):
    help = (
        "Per feed: outbox backlog and its oldest event, items never embedded, users "
        "and profiles, failures; broker messages and the last worker heartbeat. Exits "
        "1 when the oldest event or the last heartbeat (with work pending) is older "
        "than --max-lag, so it serves as a health check."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
        parser.add_argument(
            "--max-lag", type=float, default=300.0, help="seconds of lag that fail (default 300)"
        )
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        alias, max_lag = options["database"], options["max_lag"]
        feeds = {}
        with connections[alias].cursor() as cur:
            for feed_id, spec in sorted(installed_specs(alias).items()):
                cur.execute(
                    feed_query("feed_status", spec),
                    {"feed_id": feed_id},
                )
                row = dict(zip(COLUMNS, cur.fetchone(), strict=True))
                feeds[feed_id] = {**row, "encoder": spec.encoder, "model": spec.model_name}
        try:
            broker = redis.Redis.from_url(redis_url(), socket_timeout=5, socket_connect_timeout=5)
            messages = pending_messages(broker)
            heartbeat = last_heartbeat_age(broker)
        except redis.RedisError as exc:
            raise CommandError(f"cannot read the broker at {redis_url()}: {exc}") from exc
        problems = [
            f"feed {feed_id}: oldest outbox event is {row['oldest_event_s']:.0f} s old"
            for feed_id, row in feeds.items()
            if (row["oldest_event_s"] or 0.0) > max_lag
        ]
        if messages and (heartbeat is None or heartbeat > max_lag):
            seen = "never" if heartbeat is None else f"{heartbeat:.0f} s ago"
            problems.append(f"{messages} messages pending and the last worker heartbeat was {seen}")
        report = {
            "feeds": feeds,
            "broker_messages": messages,
            "last_heartbeat_s": heartbeat,
            "healthy": not problems,
            "problems": problems,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._print(report)
        if problems:
            raise CommandError("; ".join(problems))

    def _print(self, report: dict[str, Any]) -> None:
        for feed_id, row in report["feeds"].items():
            age = row["oldest_event_s"]
            self.stdout.write(
                f"{feed_id}: {row['outbox_events']} outbox events"
                f"{f' (oldest {age:.1f} s)' if age is not None else ''}, "
                f"{row['items_never_embedded']} of {row['items']} items never embedded, "
                f"{row['profiles']} profiles for {row['users_with_interactions']} users "
                f"with interactions, {row['failures']} failures; "
                f"{row['encoder']} {row['model']}"
            )
        heartbeat = report["last_heartbeat_s"]
        self.stdout.write(
            f"broker: {report['broker_messages']} messages pending; last worker heartbeat "
            + ("never" if heartbeat is None else f"{heartbeat:.1f} s ago")
        )
