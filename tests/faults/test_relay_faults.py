"""Change capture that loses nothing: the relay under broker, process and database faults.

Every test writes through the real capture triggers and judges the outcome by what
reached Redis, the only thing the rest of the pipeline reads.
"""

from __future__ import annotations

import logging
import random

import pytest

from tests.faults.conftest import Stack, captured

pytestmark = pytest.mark.faults

OTHER_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)
LISTENERS = OTHER_SESSIONS + " AND query = 'LISTEN dnf_outbox'"


def test_redis_outage_keeps_rows_until_the_broker_returns(stack: Stack) -> None:
    relay = stack.start_relay()
    stack.wait_delivered(captured(stack.insert_items(1)))

    stack.services.redis.stop()
    items: list[int] = []
    likes: list[tuple[int, int]] = []
    for round_ in range(4):
        new = stack.insert_items(25)
        items += new
        likes += [(round_ * 100 + n, item) for n, item in enumerate(new)]
        stack.insert_likes(likes[-25:])

    stack.wait(
        lambda: "rows stay in the outbox" in relay.output(),
        "the relay to try, and fail, to enqueue while Redis is down",
    )
    assert stack.outbox_count() == 2 * (len(items) + len(likes)), (
        "rows left the outbox while the broker was down"
    )

    stack.services.ensure_up()
    stack.wait_delivered(captured(items, likes))
    stack.wait(lambda: stack.outbox_count() == 0, "the outbox to drain")
    assert relay.alive


def test_relay_killed_mid_batch_loses_nothing(stack: Stack) -> None:
    rng = random.Random(7)
    items = stack.insert_items(15_000)
    likes = [(rng.randint(1, 500), rng.choice(items)) for _ in range(15_000)]
    stack.insert_likes(likes)
    expected = captured(items, likes)
    assert stack.outbox_count() == 60_000

    relay = stack.start_relay()
    # Killed as soon as its first message lands, while that message's batch is in
    # flight; polled without pause, as a relay moves some 100k rows a second.
    stack.wait(lambda: stack.message_count() > 0, "the first message", interval=0)
    relay.kill()

    assert stack.outbox_count() > 0, "the relay finished before it was killed: nothing tested"
    lost = expected - stack.outbox_keys() - set(stack.delivered())
    assert not lost, f"{len(lost)} keys are neither in the outbox nor in Redis: {sorted(lost)[:3]}"

    stack.start_relay()
    stack.wait(lambda: stack.outbox_count() == 0, "a new relay to drain the outbox")
    stack.wait_delivered(expected)


def test_relay_reconnects_after_postgres_restarts(stack: Stack) -> None:
    # Polling so rarely that only NOTIFY can explain a prompt delivery.
    relay = stack.start_relay(poll_interval=60)
    stack.wait_delivered(captured(stack.insert_items(1)))
    stack.wait(lambda: stack.sql(LISTENERS)[0][0] == 1, "the relay to LISTEN")

    stack.services.postgres.stop()
    stack.services.ensure_up()
    stack.wait(lambda: stack.sql(LISTENERS)[0][0] == 1, "the relay to LISTEN again")

    items: list[int] = []
    for _ in range(3):
        items += stack.insert_items(10)
    likes = [(7, item) for item in items]
    stack.insert_likes(likes)
    stack.wait_delivered(captured(items, likes), timeout=15)
    assert "relay lost Postgres" in relay.output()

    # A stop must not wait out the poll interval, and must leave no session behind.
    assert relay.stop(timeout=10) == 0
    stack.wait(lambda: stack.sql(OTHER_SESSIONS)[0][0] == 0, "the relay's sessions to end", 5)


def test_polling_finds_events_no_notify_announced(stack: Stack) -> None:
    # Written while no relay listens: their notifications are lost for good.
    items = stack.insert_items(40)
    likes = [(n, item) for n, item in enumerate(items)]
    stack.insert_likes(likes)

    stack.start_relay(poll_interval=0.5)
    stack.wait_delivered(captured(items, likes))

    # A row that comes with no notification at all: only polling can find it.
    stack.sql("INSERT INTO dnf_outbox (feed_id, kind, item_key) VALUES ('items', 'item', '-1')")
    stack.wait_delivered({("items", "embed", "-1")})
    stack.wait(lambda: stack.outbox_count() == 0, "the outbox to drain")


def test_concurrent_relays_claim_each_row_once(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Every outbox row carries keys no other row has, so a row enqueued twice shows up
    # as a key delivered twice, however the relays coalesced their batches.
    items = stack.insert_items(5000)
    sent: list[list[int]] = [[], [], []]
    for record in sent:
        stack.start_relay_thread(record.append, batch_size=250, poll_interval=0.5)
    # The rest arrives while they run, each statement's NOTIFY waking all three.
    likes = [(1_000_000 + n, item) for n, item in enumerate(items)]
    for start in range(0, len(likes), 500):
        stack.insert_likes(likes[start : start + 500])
    expected = captured(items, likes)
    # 20k rows over the two feeds: 5k items and 5k likes each, two keys per like.
    assert len(expected) == 30_000

    stack.wait_delivered(expected)
    stack.wait(lambda: stack.outbox_count() == 0, "the outbox to drain")
    assert stack.stop_relay_threads() == [True, True, True], "a relay thread crashed"
    # Stopped relays leave no session behind in Postgres.
    stack.wait(lambda: stack.sql(OTHER_SESSIONS)[0][0] == 0, "the relays to disconnect", 5)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not failures, f"the relays hit errors: {failures[:3]}"

    delivered = stack.delivered()
    twice = {key: n for key, n in delivered.items() if n > 1}
    assert not twice, f"{len(twice)} keys were enqueued more than once: {list(twice)[:3]}"
    assert set(delivered) == expected
    assert all(sent), f"some relay got no work, so this ran no race: {[sum(s) for s in sent]}"
