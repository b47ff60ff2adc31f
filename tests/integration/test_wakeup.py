"""Enqueues wake idle consumers (workers.wakeup), against a real Redis.

Each consumer here polls once an hour, so a call that returns within the test's bound
returned because an enqueue woke it (or a delayed message fell due), not by polling.
No assertion is about speed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name

from tests.conftest import WAIT_TIMEOUT_S
from workers.broker import make_broker
from workers.dispatch import FEED_QUEUE
from workers.wakeup import WakingRedisBroker

pytestmark = pytest.mark.services

HOUR_MS = 3_600_000
# More than enough calls: each returns None early only on a wake-up or subscription.
CALLS = 10


@pytest.fixture
def broker(redis_url: str, redis_client: redis.Redis) -> Iterator[RedisBroker]:
    broker = make_broker(redis_url)
    yield broker
    broker.close()


def _calls_in_thread(consumer: Any, results: list[Any], until: Callable[[Any], bool]) -> Any:
    """Call ``next(consumer)`` on a thread until what it returns satisfies ``until``.

    Every result is appended to ``results``; a call may return None early (a wake-up
    that found nothing new), never later than the consumer's timeout (an hour here).
    """

    def run() -> None:
        for _ in range(CALLS):
            results.append(next(consumer))
            if until(results[-1]):
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_broker_wakes_consumers_unless_told_not_to(redis_url: str) -> None:
    waking, plain = make_broker(redis_url), make_broker(redis_url, wakeup=False)
    try:
        assert isinstance(waking, WakingRedisBroker)
        assert type(plain) is RedisBroker
    finally:
        waking.close()
        plain.close()


def test_an_enqueue_wakes_a_consumer_that_polls_once_an_hour(broker: RedisBroker) -> None:
    consumer = broker.consume(FEED_QUEUE, prefetch=2, timeout=HOUR_MS)
    try:
        results: list[Any] = []
        # The first call finds the queue empty and waits: an hour, unless woken.
        thread = _calls_in_thread(consumer, results, lambda message: message is not None)
        broker.enqueue(Message(FEED_QUEUE, "dnf_profiles", ("f", ["1"]), {}, {}))
        thread.join(WAIT_TIMEOUT_S)
        assert not thread.is_alive(), "the enqueue did not wake the consumer"
        assert results[-1].args == ("f", ["1"])
    finally:
        consumer.close()


def test_a_delayed_message_is_handed_back_when_due(broker: RedisBroker) -> None:
    """The worker moves due messages between calls: no wait may outlast the earliest."""
    consumer = broker.consume(dq_name(FEED_QUEUE), prefetch=10, timeout=HOUR_MS)
    try:
        broker.enqueue(Message(FEED_QUEUE, "dnf_profiles", ("f", ["2"]), {}, {}), delay=300)
        results: list[Any] = []

        def due(_: Any) -> bool:
            handed = [m for m in results if m is not None]
            return bool(handed) and handed[0].options["eta"] <= current_millis()

        # Calls return early on wake-ups; one returns once the message is due, not later.
        thread = _calls_in_thread(consumer, results, due)
        thread.join(WAIT_TIMEOUT_S)
        assert not thread.is_alive(), "the consumer waited past the message's due time"
        assert [m.args for m in results if m is not None] == [("f", ["2"])]
    finally:
        consumer.close()
