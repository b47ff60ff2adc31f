"""``manage.py dnf_status``: how far behind each feed is; exits 1 when it lags."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dnf_django.status import (
    DEFAULT_MAX_LAG_S,
    OUTBOX_COUNT_CAP,
    FeedStatus,
    PipelineStatus,
    pipeline_status,
)


class Command(BaseCommand):
    help = (
        "Per feed: outbox backlog and its oldest event, items never embedded, users "
        "and profiles, failures; broker messages and the last worker heartbeat. Exits "
        "1 when the oldest event or the last heartbeat (with work pending) is older "
        "than --max-lag, or the broker cannot be read, so it serves as a health check; "
        "the full status also when work is lost or failing (items or users nothing is on "
        "its way to, failures within --max-lag, a stopped backfill, writes the database "
        "refused the workers). --lag-only reads just the outbox head and the broker, for "
        "frequent probes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
        parser.add_argument(
            "--max-lag",
            type=float,
            default=DEFAULT_MAX_LAG_S,
            help=f"seconds of lag that fail (default {DEFAULT_MAX_LAG_S:g})",
        )
        parser.add_argument(
            "--lag-only",
            action="store_true",
            help=(
                "skip the per-feed counts (they scan the content and interaction tables); "
                "read only the oldest outbox event, a capped backlog count and the broker: "
                "a constant-cost check for liveness and readiness probes"
            ),
        )
        parser.add_argument("--database", default="default", help="DATABASES alias")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_lag"] <= 0:
            raise CommandError(f"--max-lag must be positive, not {options['max_lag']:g}")
        status = pipeline_status(
            max_lag_s=options["max_lag"], using=options["database"], lag_only=options["lag_only"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
        else:
            self._print(status)
        if status.problems:
            raise CommandError("; ".join(status.problems))

    def _print(self, status: PipelineStatus) -> None:
        outbox = status.outbox
        if status.feeds is None:
            count = f"{OUTBOX_COUNT_CAP}+" if outbox.capped else str(outbox.events)
            oldest = (
                f" (oldest {outbox.oldest_event_s:.1f} s, feed {outbox.oldest_feed_id})"
                if outbox.oldest_event_s is not None
                else ""
            )
            self.stdout.write(f"outbox: {count} events{oldest}")
        for feed in status.feeds or ():
            age = feed.oldest_event_s
            self.stdout.write(
                f"{feed.feed_id}: {feed.outbox_events} outbox events"
                f"{f' (oldest {age:.1f} s)' if age is not None else ''}, "
                f"{feed.items_never_embedded} of {feed.items} items never embedded, "
                f"{feed.profiles} profiles for {feed.users_with_interactions} users "
                f"with interactions, {feed.failures} failures; "
                f"{feed.encoder} {feed.model}"
            )
            self.stdout.write(f"  {_freshness(feed)}")
        broker = status.broker
        if broker.error is not None:
            self.stdout.write(f"broker: {broker.error}")
            return
        heartbeat = broker.last_heartbeat_s
        self.stdout.write(
            f"broker: {broker.messages} messages pending; last worker heartbeat "
            + ("never" if heartbeat is None else f"{heartbeat:.1f} s ago")
        )


def _seconds(value: float | None) -> str:
    if value is None:
        return "not measured yet"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.0f} s"


def _freshness(feed: FeedStatus) -> str:
    """How fresh the feed is: measured write delays, and the collaborative basis."""
    parts = [
        f"write to profile {_seconds(feed.write_to_profile_s)}",
        f"write to embedding {_seconds(feed.write_to_embedding_s)}",
    ]
    if feed.delays_measured_s_ago is not None:
        parts[-1] += f" (measured {feed.delays_measured_s_ago:.0f} s ago)"
    if feed.items_without_collaborative is not None:
        age = feed.collaborative_basis_age_s
        parts.append(
            (
                "collaborative basis never built"
                if age is None
                else f"collaborative basis {age:.0f} s old"
            )
            + f", {feed.items_without_collaborative} items and "
            f"{feed.users_without_collaborative} users waiting for it"
        )
    return "; ".join(parts)
