"""Outbox events and how a claimed batch of them turns into units of work.

The relay claims rows, this module coalesces them (a thousand likes of one item are
one popularity recount), and the relay enqueues the resulting tasks. Tasks carry
keys only: actors always recompute from the database, so duplicates are harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum


class EventKind(StrEnum):
    """What a trigger saw happen; the values are stored in ``dnf_outbox.kind``."""

    ITEM = "item"
    INTERACTION = "interaction"
    TRUNCATE_ITEMS = "truncate_items"
    TRUNCATE_INTERACTIONS = "truncate_interactions"


class TaskKind(StrEnum):
    """The units of work actors perform."""

    EMBED = "embed"
    PROFILES = "profiles"
    POPULARITY = "popularity"
    RANK = "rank"
    FACTORS = "factors"
    RESET = "reset"


@dataclass(frozen=True)
class OutboxEvent:
    """One claimed ``dnf_outbox`` row."""

    id: int
    feed_id: str
    kind: EventKind
    item_key: str | None = None
    user_key: str | None = None
    # Seconds since the write was captured, when the relay claimed it.
    age_s: float | None = None


def events_of_row(
    row_id: int,
    feed_id: str,
    kind: str,
    item_key: str | None,
    user_key: str | None,
    item_keys: list[str] | None = None,
    user_keys: list[str] | None = None,
    age_s: float | None = None,
) -> list[OutboxEvent]:
    """The events one outbox row stands for.

    v1 triggers wrote one row per key; v2 triggers write one row per statement with
    the keys in arrays (for interactions, two aligned arrays of item and user keys).
    ``age_s`` is how long ago the row was written.
    """
    event_kind = EventKind(kind)
    if item_keys is None and user_keys is None:
        return [OutboxEvent(row_id, feed_id, event_kind, item_key, user_key, age_s)]
    none: list[str | None] = [None]
    items: list[str | None] = list(item_keys) if item_keys else none * len(user_keys or [])
    users: list[str | None] = list(user_keys) if user_keys else none * len(items)
    if len(items) != len(users):
        raise ValueError(f"outbox row {row_id}: {len(items)} item keys but {len(users)} user keys")
    return [
        OutboxEvent(row_id, feed_id, event_kind, i, u, age_s)
        for i, u in zip(items, users, strict=True)
    ]


@dataclass(frozen=True)
class Task:
    """A unit of work for one feed over a bounded, sorted, duplicate-free set of keys."""

    kind: TaskKind
    feed_id: str
    keys: tuple[str, ...]
    # Seconds the broker holds the message before a worker may take it.
    delay_s: float = 0.0
    # Seconds since the oldest write the task answers was captured (None for work no
    # write asked for, such as a backfill): the start of its measured delay.
    age_s: float | None = None


@dataclass(frozen=True)
class BatchLimits:
    """How much work one message may carry.

    ``embed``, ``profiles``, ``popularity`` and ``rank`` bound the keys per message. An
    embedding message is encoded ``encode_batch`` texts at a time and stops after
    ``embed_seconds``, well under Dramatiq's 60 s heartbeat timeout, sending the
    rest back to the queue. By default a message is one encoder call: the encoder
    sorts a call's texts by length to pad little, so larger calls are cheaper per
    text (MovieLens texts, 2 cores: 269 texts/s in calls of 64, 343/s in calls of
    256), while 256 texts of at most the model's max length keep one call short.
    """

    embed: int = 256
    profiles: int = 200
    popularity: int = 500
    rank: int = 500
    encode_batch: int = 256
    embed_seconds: float = 20.0

    def split(self, task: Task) -> list[Task]:
        """``task`` as tasks of at most the keys its kind may carry (a reset stays whole)."""
        size = {
            TaskKind.EMBED: self.embed,
            TaskKind.PROFILES: self.profiles,
            TaskKind.POPULARITY: self.popularity,
            TaskKind.RANK: self.rank,
        }.get(task.kind)
        if size is None:
            return [task]
        keys = task.keys
        return [replace(task, keys=keys[i : i + size]) for i in range(0, len(keys), size)]


def plan_tasks(events: Iterable[OutboxEvent], limits: BatchLimits | None = None) -> list[Task]:
    """Coalesce events into tasks: one set of keys per (feed, task kind), then chunk it.

    A truncate becomes a RESET task: recompute every profile and count the feed holds.
    Like every task it reads the current state, so it may run in any order with the
    others.
    """
    limits = limits or BatchLimits()
    keys: dict[tuple[str, TaskKind], set[str]] = {}
    ages: dict[tuple[str, TaskKind], float] = {}

    def add(feed_id: str, kind: TaskKind, key: str | None, age_s: float | None) -> None:
        keys.setdefault((feed_id, kind), set())
        if key is not None:
            keys[feed_id, kind].add(key)
        if age_s is not None:
            ages[feed_id, kind] = max(age_s, ages.get((feed_id, kind), age_s))

    for event in events:
        if event.kind in (EventKind.TRUNCATE_ITEMS, EventKind.TRUNCATE_INTERACTIONS):
            add(event.feed_id, TaskKind.RESET, None, event.age_s)
        elif event.kind is EventKind.ITEM and event.item_key is not None:
            add(event.feed_id, TaskKind.EMBED, event.item_key, event.age_s)
        elif event.kind is EventKind.INTERACTION:
            if event.user_key is not None:
                add(event.feed_id, TaskKind.PROFILES, event.user_key, event.age_s)
            if event.item_key is not None:
                add(event.feed_id, TaskKind.POPULARITY, event.item_key, event.age_s)

    tasks = []
    # Resets first, whole: they recompute everything the feed holds.
    for (feed_id, kind), key_set in sorted(
        keys.items(), key=lambda entry: (entry[0][1] is not TaskKind.RESET, entry[0])
    ):
        task = Task(kind, feed_id, tuple(sorted(key_set)), age_s=ages.get((feed_id, kind)))
        tasks += [task] if kind is TaskKind.RESET else limits.split(task)
    return tasks
