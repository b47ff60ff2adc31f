"""How far behind the pipeline is, in numbers: what ``dnf_status`` and the admin show.

Two depths. :func:`pipeline_status` with ``lag_only=True`` reads only the head of the
outbox's primary key and a few broker keys, so its cost does not grow with any table:
fit for a probe every few seconds. The full status adds per-feed counts that scan the
content and interaction tables (a few hundred ms at a million rows): for people.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db import connections

from dnf_core.broker_layout import (
    RELAY,
    WriteDelay,
    WriteRefusal,
    last_heartbeat_age,
    pending_messages,
    without_password,
    write_delays,
    write_refusals,
)
from dnf_core.encoders.backends import embedding_target
from dnf_core.errors import BrokerError, InvalidArgument
from dnf_core.events import TaskKind
from dnf_core.queries import feed_query
from dnf_core.resp import RespConnection
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from dnf_django.endpoints import redis_url
from dnf_django.registry import installed_specs

# The lag-only count stops here: enough to tell "a few" from "a lot", at a bounded cost.
OUTBOX_COUNT_CAP = 10_000
DEFAULT_MAX_LAG_S = 300.0
_BROKER_TIMEOUT_S = 5.0
# Work seen waiting with nothing on its way to it, per feed and kind of work: when a
# status first saw it and a sample of its keys. Kept in Redis, beside the broker state
# it is judged against; a flushed Redis only restarts the clock.
WAITING = "dnf:status:waiting"
# Keys remembered per kind of waiting work: enough that the same work is recognised.
WAITING_SAMPLE = 20


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
    # Failures recorded within the status's max_lag and not cleared since.
    recent_failures: int
    # "task key: last line of its error" of the latest failure, if any.
    latest_failure: str | None
    encoder: str
    model: str
    # The collaborative basis's age and what waits for its next build; None for a feed
    # without collaborative vectors (and the age before the first build).
    collaborative_basis_age_s: float | None
    items_without_collaborative: int | None
    users_without_collaborative: int | None
    # The latest measured delays from a write to the commit of the work it asked for
    # (workers.delays), and how long ago the later of the two was measured; None until
    # a worker has measured one.
    write_to_profile_s: float | None = None
    write_to_embedding_s: float | None = None
    delays_measured_s_ago: float | None = None

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
    worker has heartbeated for ``max_lag_s``. An unreachable broker is a problem too
    (reported, not raised, so the database's numbers are still shown). ``lag_only``
    skips the per-feed counts and the checks below.

    The full status also reports work lost or failing: a backfill stopped by an error;
    failures recorded within ``max_lag_s``; a write the database refused a worker and
    no later write of the same feed and task succeeded; and items without a vector of
    their current text (or users without a profile) that no outbox event or broker
    message is on its way to, the same ones as a status more than ``max_lag_s`` ago
    saw (docs/operations.md has each with its fix).
    """
    if max_lag_s <= 0:
        raise InvalidArgument(f"max_lag_s must be positive, not {max_lag_s!r}")
    outbox = _outbox_head(using)
    specs = None if lag_only else installed_specs(using)
    namespace = _broker_namespace(using)
    broker = _broker_status(namespace)
    feeds = None
    if specs is not None:
        delays = _write_delays(namespace) if broker.error is None else {}
        feeds = _feed_statuses(using, specs, max_lag_s, delays)
    problems = _problems(outbox, feeds, broker, max_lag_s)
    if specs is not None and feeds is not None:
        # Not in a probe's status: no restart cures these, and they scan tables.
        problems += _backfill_problems(using)
        problems += _failure_problems(feeds, max_lag_s)
        if broker.error is None:
            problems += _stalled_problems(using, specs, feeds, broker, max_lag_s)
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


def _feed_statuses(
    using: str,
    specs: dict[str, FeedSpec],
    max_lag_s: float,
    delays: dict[tuple[str, str], WriteDelay],
) -> tuple[FeedStatus, ...]:
    statuses = []
    with connections[using].cursor() as cur:
        for feed_id, spec in sorted(specs.items()):
            cur.execute(
                feed_query("feed_status", spec), {"feed_id": feed_id, "window_s": max_lag_s}
            )
            columns = [column.name for column in cur.description]
            counts = dict(zip(columns, cur.fetchone(), strict=True))
            if not spec.collaborative_dimension:
                for name in _COLLABORATIVE:
                    counts[name] = None
            status = FeedStatus(
                feed_id=feed_id, encoder=spec.encoder, model=spec.model_name, **counts
            )
            statuses.append(_with_delays(status, delays))
    return tuple(statuses)


_COLLABORATIVE = (
    "collaborative_basis_age_s",
    "items_without_collaborative",
    "users_without_collaborative",
)


def _with_delays(status: FeedStatus, delays: dict[tuple[str, str], WriteDelay]) -> FeedStatus:
    profile = delays.get((status.feed_id, TaskKind.PROFILES.value))
    embedding = delays.get((status.feed_id, TaskKind.EMBED.value))
    measured = [delay.age_s for delay in (profile, embedding) if delay is not None]
    return replace(
        status,
        write_to_profile_s=profile.delay_s if profile else None,
        write_to_embedding_s=embedding.delay_s if embedding else None,
        delays_measured_s_ago=min(measured) if measured else None,
    )


def _write_delays(namespace: str) -> dict[tuple[str, str], WriteDelay]:
    """The delays the workers of this database measured; none if Redis cannot tell."""
    try:
        with _redis_client(redis_url()) as client:
            return write_delays(client, namespace)
    except BrokerError:
        return {}  # _broker_status reports the broker's trouble


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


def _failure_problems(feeds: tuple[FeedStatus, ...], max_lag_s: float) -> list[str]:
    """Feeds whose actors recorded failures within ``max_lag_s``, not cleared since."""
    return [
        f"feed {feed.feed_id}: {feed.recent_failures} failures in the last {max_lag_s:.0f} s "
        f"(latest: {feed.latest_failure}); see dnf_failure (the admin's Failures list), fix "
        f"the cause, then run `python manage.py dnf_retry_failed --feed {feed.feed_id}`"
        for feed in feeds
        if feed.recent_failures
    ]


def _stalled_problems(
    using: str,
    specs: dict[str, FeedSpec],
    feeds: tuple[FeedStatus, ...],
    broker: BrokerStatus,
    max_lag_s: float,
) -> list[str]:
    """Writes the database refused the workers, and work nothing is on its way to."""
    url = redis_url()
    try:
        # Connecting is where an unreachable broker fails, so inside the try too.
        with _redis_client(url) as client:
            problems = [_refusal_problem(refusal) for refusal in write_refusals(client)]
            if broker.messages == 0:
                # With messages pending, work may be on its way to anything: nothing to judge.
                problems += _waiting_problems(using, client, specs, feeds, max_lag_s)
            return problems
    except BrokerError as exc:
        return [f"cannot read the broker at {without_password(url)}: {exc}"]


def _refusal_problem(refusal: WriteRefusal) -> str:
    if refusal.source == RELAY:
        writer, retry = "the relay", "the relay retries by itself"
    else:
        feed_id, _, task = refusal.source.partition(":")
        writer = f"the {task} actor of feed {feed_id}"
        retry = (
            "refused messages retry by themselves, and `python manage.py dnf_backfill "
            f"--feed {feed_id} --restart` queues again what ran out of retries"
        )
    return (
        f"the database refused a write of {writer} {refusal.age_s:.0f} s ago ({refusal.error}); "
        "let the workers write (free disk space, end read-only mode, or grant their role "
        f"what `python manage.py dnf_grants worker ROLE` prints): {retry}"
    )


def _waiting_problems(
    using: str,
    client: RespConnection,
    specs: dict[str, FeedSpec],
    feeds: tuple[FeedStatus, ...],
    max_lag_s: float,
) -> list[str]:
    """Items without a current vector, users without a profile, nothing on its way.

    Called only while the broker holds no message; each query checks the feed's
    outbox in its own snapshot. One sighting proves nothing (the last message may have
    been acknowledged between the two reads), so each is remembered in Redis and
    reported once a status more than ``max_lag_s`` later finds the same keys waiting.
    """
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/embedding_model_all"))
        serving = dict(cur.fetchall())
    problems = []
    now = time.time()
    with connections[using].cursor() as cur:
        for feed in feeds:
            if feed.outbox_events:
                continue  # busy: the outbox lag check covers a stuck outbox
            spec = specs[feed.feed_id]
            checks: list[tuple[str, str, TaskKind, str]] = []
            # A feed a re-embedding moves to another model leaves new items without a
            # column vector until the swap, by design (see dnf_reembed). One that serves
            # its model on another backend is embedded with that backend.
            target, to_column = embedding_target(
                spec, serving.get(feed.feed_id, spec.embedding_identity)
            )
            if to_column:
                checks.append(("items", "feed_waiting_items", TaskKind.EMBED, _LOST_ITEMS))
            # With dislikes, likes and dislikes may cancel out: no profile, by design.
            if spec.interaction_value_column is None:
                checks.append(("users", "feed_waiting_profiles", TaskKind.PROFILES, _LOST_USERS))
            for what, query, task, message in checks:
                params = {
                    "feed_id": feed.feed_id,
                    "task": task.value,
                    "identity": target.embedding_identity,
                    "sample": WAITING_SAMPLE,
                }
                if what == "users":
                    del params["identity"]
                cur.execute(feed_query(query, spec), params)
                count, keys = cur.fetchone()
                waited = _waited(client, f"{feed.feed_id}:{what}", list(keys), now)
                if waited is not None and waited > max_lag_s:
                    problems.append(message.format(feed=feed.feed_id, n=count, s=waited))
    return problems


_LOST = (
    ", and no outbox event or broker message is on its way to them (the same ones for "
    "{s:.0f} s): their messages were lost (a flushed or restored Redis?); run "
    "`python manage.py dnf_backfill --feed {feed} --restart`"
)
_LOST_ITEMS = "feed {feed}: {n} items have no embedding of their current text" + _LOST
_LOST_USERS = "feed {feed}: {n} users with interactions on embedded items have no profile" + _LOST


def _waited(client: RespConnection, field: str, keys: list[str], now: float) -> float | None:
    """Seconds since a status first saw some of ``keys`` waiting; None if none wait.

    Remembers the keys still waiting since then (or, when none is, ``keys`` from now):
    work that keeps moving never keeps a key long enough to be reported.
    """
    if not keys:
        client.hdel(WAITING, field)
        return None
    raw = client.hget(WAITING, field)
    seen: dict[str, Any] = json.loads(raw) if raw is not None else {"since": now, "keys": []}
    still = [key for key in keys if key in set(seen["keys"])]
    since = float(seen["since"]) if still else now
    client.hset(WAITING, field, json.dumps({"since": since, "keys": still or keys}))
    return now - since


def _redis_client(url: str) -> RespConnection:
    # A socket of our own rather than redis-py: web processes do not install it.
    return RespConnection.from_url(url, timeout=_BROKER_TIMEOUT_S)


def _broker_namespace(using: str) -> str:
    """This database's namespace in the broker: its queues, those its workers consume,
    and its delays (the broker may serve other databases' pipelines too)."""
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/broker_namespace"))
        (namespace,) = cur.fetchone() or ("",)
    return str(namespace)


def _broker_status(namespace: str) -> BrokerStatus:
    url = redis_url()
    shown = without_password(url)
    try:
        client = _redis_client(url)
        try:
            return BrokerStatus(
                shown, pending_messages(client, namespace), last_heartbeat_age(client)
            )
        finally:
            client.close()
    except BrokerError as exc:
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
