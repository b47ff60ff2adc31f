import pytest

from dnf_core.events import (
    BatchLimits,
    EventKind,
    OutboxEvent,
    Task,
    TaskKind,
    events_of_row,
    plan_tasks,
)


def event(
    i: int, kind: EventKind, item: str | None = None, user: str | None = None, feed: str = "a"
) -> OutboxEvent:
    return OutboxEvent(id=i, feed_id=feed, kind=kind, item_key=item, user_key=user)


def test_duplicates_coalesce_into_one_task_per_kind() -> None:
    events = [
        event(1, EventKind.ITEM, "7"),
        event(2, EventKind.ITEM, "7"),
        event(3, EventKind.INTERACTION, "7", "u1"),
        event(4, EventKind.INTERACTION, "8", "u1"),
        event(5, EventKind.INTERACTION, "7", "u2"),
    ]
    assert plan_tasks(events) == [
        Task(TaskKind.EMBED, "a", ("7",)),
        Task(TaskKind.POPULARITY, "a", ("7", "8")),
        Task(TaskKind.PROFILES, "a", ("u1", "u2")),
    ]


def test_keys_are_chunked_by_kind_limits_and_feeds_kept_apart() -> None:
    events = [event(i, EventKind.ITEM, str(i)) for i in range(5)]
    events.append(event(9, EventKind.ITEM, "x", feed="b"))
    tasks = plan_tasks(events, BatchLimits(embed=2))
    assert [t.keys for t in tasks if t.feed_id == "a"] == [("0", "1"), ("2", "3"), ("4",)]
    assert [t for t in tasks if t.feed_id == "b"] == [Task(TaskKind.EMBED, "b", ("x",))]


def test_truncates_become_one_reset_per_feed() -> None:
    events = [
        event(1, EventKind.TRUNCATE_ITEMS),
        event(2, EventKind.TRUNCATE_INTERACTIONS),
        event(3, EventKind.INTERACTION, "1", "u"),
    ]
    tasks = plan_tasks(events)
    assert tasks[0] == Task(TaskKind.RESET, "a", ())
    assert {t.kind for t in tasks[1:]} == {TaskKind.PROFILES, TaskKind.POPULARITY}


def test_rows_of_both_trigger_versions_expand_to_events() -> None:
    assert events_of_row(1, "a", "item", "7", None) == [event(1, EventKind.ITEM, "7")]
    assert events_of_row(2, "a", "item", None, None, ["7", "8"], None) == [
        event(2, EventKind.ITEM, "7"),
        event(2, EventKind.ITEM, "8"),
    ]
    assert events_of_row(3, "a", "interaction", None, None, ["7", "8"], ["u", "v"]) == [
        event(3, EventKind.INTERACTION, "7", "u"),
        event(3, EventKind.INTERACTION, "8", "v"),
    ]
    assert events_of_row(4, "a", "truncate_items", None, None) == [
        event(4, EventKind.TRUNCATE_ITEMS)
    ]
    with pytest.raises(ValueError, match="2 item keys but 1 user keys"):
        events_of_row(5, "a", "interaction", None, None, ["7", "8"], ["u"])


def test_each_task_counts_its_delay_from_its_oldest_write() -> None:
    events = [
        OutboxEvent(1, "a", EventKind.INTERACTION, "7", "u1", age_s=0.5),
        OutboxEvent(2, "a", EventKind.INTERACTION, "8", "u2", age_s=2.0),
        OutboxEvent(3, "a", EventKind.ITEM, "9", None, age_s=1.0),
        OutboxEvent(4, "b", EventKind.TRUNCATE_ITEMS, age_s=3.0),
        OutboxEvent(5, "b", EventKind.ITEM, "1"),
    ]
    ages = {(t.feed_id, t.kind): t.age_s for t in plan_tasks(events)}
    assert ages == {
        ("b", TaskKind.RESET): 3.0,
        ("a", TaskKind.EMBED): 1.0,
        ("a", TaskKind.POPULARITY): 2.0,
        ("a", TaskKind.PROFILES): 2.0,
        # A write captured before ages were read (a v1 relay) measures nothing.
        ("b", TaskKind.EMBED): None,
    }
    # Split into messages, each part keeps the age.
    split = plan_tasks(events, BatchLimits(profiles=1))
    assert [t.age_s for t in split if t.kind is TaskKind.PROFILES] == [2.0, 2.0]
    assert events_of_row(6, "a", "item", "7", None, None, None, 1.5)[0].age_s == 1.5
