"""How far behind the pipeline is, in numbers: what ``dnf_status`` and the admin show.

Two depths. :func:`pipeline_status` with ``lag_only=True`` reads only the head of the
outbox's primary key and a few broker keys, so its cost does not grow with any table:
fit for a probe every few seconds. The full status adds per-feed counts that scan the
content and interaction tables (a few hundred ms at a million rows): for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from django.db import connections

from dnf_core.queries import feed_query
from dnf_core.sqlfiles import load_sql
from dnf_django.endpoints import redis_url
from dnf_django.registry import installed_specs
from workers.backlog import pending_messages
from workers.heartbeat import last_heartbeat_age

# The lag-only count stops here: enough to tell "a few" from "a lot", at a bounded cost.
OUTBOX_COUNT_CAP = 10_000
DEFAULT_MAX_LAG_S = 300.0
_BROKER_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class FeedStatus:
    """One installed feed: its outbox backlog, coverage by the workers, and its model."""

    feed_id: str
    outbox_events: int
    oldest_event_s: float | None
    items: int
    items_never_embedded: int
    users_with_interactions: int
    profiles: int
    failures: int
    encoder: str
    model: str

    @property
    def users_without_profile(self) -> int:
        """Users with interactions but no profile yet (none of their items embedded)."""
        return max(self.users_with_interactions - self.profiles, 0)


@dataclass(frozen=True)
class OutboxHead:
    """The whole outbox as a probe sees it: its oldest event and a capped count."""

    events: int
    oldest_event_s: float | None
    oldest_feed_id: str | None

    @property
    def capped(self) -> bool:
        """True when ``events`` stopped at :data:`OUTBOX_COUNT_CAP` (there may be more)."""
        return self.events >= OUTBOX_COUNT_CAP


@dataclass(frozen=True)
class BrokerStatus:
    """Messages not yet acknowledged and the newest worker heartbeat, or why unknown.

    ``url`` has any password removed, so it can be shown. ``error`` is set (and the
    numbers are None) when the broker could not be read.
    """

    url: str
    messages: int | None
    last_heartbeat_s: float | None
    error: str | None = None


@dataclass(frozen=True)
class PipelineStatus:
    """Everything the status reports; ``feeds`` is None in a lag-only status."""

    outbox: OutboxHead
    broker: BrokerStatus
    feeds: tuple[FeedStatus, ...] | None
    max_lag_s: float
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        """No problem found: nothing waits longer than ``max_lag_s``, the broker answers."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape ``dnf_status --json`` prints)."""
        report: dict[str, Any] = {
            "outbox": {**asdict(self.outbox), "capped": self.outbox.capped},
            "broker_messages": self.broker.messages,
            "last_heartbeat_s": self.broker.last_heartbeat_s,
            "max_lag_s": self.max_lag_s,
            "healthy": self.healthy,
            "problems": list(self.problems),
        }
        if self.feeds is not None:
            report["feeds"] = {
                feed.feed_id: {
                    **{k: v for k, v in asdict(feed).items() if k != "feed_id"},
                    "users_without_profile": feed.users_without_profile,
                }
                for feed in self.feeds
            }
        return report


def pipeline_status(
    max_lag_s: float = DEFAULT_MAX_LAG_S, using: str = "default", lag_only: bool = False
) -> PipelineStatus:
    """Read the status; ``problems`` lists every lag beyond ``max_lag_s``.

    A lag is an outbox event older than ``max_lag_s``, or messages pending while no
    worker has heartbeated for ``max_lag_s``; in the full status, a backfill stopped
    by an error is a problem too. An unreachable broker is a problem too
    (reported, not raised, so the database's numbers are still shown). ``lag_only``
    skips the per-feed counts.
    """
    if max_lag_s <= 0:
        raise ValueError(f"max_lag_s must be positive, not {max_lag_s!r}")
    outbox = _outbox_head(using)
    feeds = None if lag_only else _feed_statuses(using)
    broker = _broker_status()
    problems = _problems(outbox, feeds, broker, max_lag_s)
    if not lag_only:
        # Not in a probe's status: a stopped backfill is not a lag a restart cures.
        problems += _backfill_problems(using)
    return PipelineStatus(
        outbox=outbox,
        broker=broker,
        feeds=feeds,
        max_lag_s=max_lag_s,
        problems=tuple(problems),
    )


def _outbox_head(using: str) -> OutboxHead:
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/outbox_head"), {"cap": OUTBOX_COUNT_CAP})
        feed_id, oldest, events = cur.fetchone()
    return OutboxHead(events=int(events), oldest_event_s=oldest, oldest_feed_id=feed_id)


def _feed_statuses(using: str) -> tuple[FeedStatus, ...]:
    statuses = []
    with connections[using].cursor() as cur:
        for feed_id, spec in sorted(installed_specs(using).items()):
            cur.execute(feed_query("feed_status", spec), {"feed_id": feed_id})
            columns = [column.name for column in cur.description]
            counts = dict(zip(columns, cur.fetchone(), strict=True))
            statuses.append(
                FeedStatus(feed_id=feed_id, encoder=spec.encoder, model=spec.model_name, **counts)
            )
    return tuple(statuses)


def _backfill_problems(using: str) -> list[str]:
    """Backfills stopped by an error: rows that predate a feed wait for them."""
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/backfill_errors"))
        rows = cur.fetchall()
    return [
        f"{error}; fix the cause, then run `python manage.py dnf_backfill --feed {feed_id}` "
        "(or restart a worker)"
        for feed_id, _phase, error, _last_key in rows
    ]


def _broker_status() -> BrokerStatus:
    url = redis_url()
    shown = _without_password(url)
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=_BROKER_TIMEOUT_S, socket_connect_timeout=_BROKER_TIMEOUT_S
        )
        try:
            return BrokerStatus(shown, pending_messages(client), last_heartbeat_age(client))
        finally:
            client.close()
    except redis.RedisError as exc:
        return BrokerStatus(shown, None, None, error=f"cannot read the broker at {shown}: {exc}")


def _problems(
    outbox: OutboxHead,
    feeds: tuple[FeedStatus, ...] | None,
    broker: BrokerStatus,
    max_lag_s: float,
) -> list[str]:
    if feeds is None:
        lagging = [(outbox.oldest_feed_id, outbox.oldest_event_s)]
    else:
        lagging = [(feed.feed_id, feed.oldest_event_s) for feed in feeds]
    problems = [
        f"feed {feed_id}: oldest outbox event is {age:.0f} s old"
        for feed_id, age in lagging
        if age is not None and age > max_lag_s
    ]
    if broker.error is not None:
        problems.append(broker.error)
    elif broker.messages:
        heartbeat = broker.last_heartbeat_s
        if heartbeat is None or heartbeat > max_lag_s:
            seen = "never" if heartbeat is None else f"{heartbeat:.0f} s ago"
            problems.append(
                f"{broker.messages} messages pending and the last worker heartbeat was {seen}"
            )
    return problems


def _without_password(url: str) -> str:
    """``url`` with its password masked: status pages and logs must not leak it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
