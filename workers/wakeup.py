"""Wake idle Dramatiq consumers when a message is enqueued, instead of letting them poll.

Dramatiq's Redis consumer sleeps when a fetch comes back empty, backing off up to the
Worker's ``worker_timeout`` before it fetches again: a message enqueued on an idle
worker waits for the end of that sleep (with 100 ms, 38 ms on average and up to 100 ms),
and each of a process's six consumers (three queues, three delay queues) keeps
fetching meanwhile. Here every enqueue also PUBLISHes on a channel of its queue, and a
consumer whose fetch came back empty waits on that channel instead of sleeping: it
fetches one Redis round trip after the enqueue, and an idle one fetches only every
``idle_poll`` seconds.

A wake-up is only a hint; the queue in Redis stays the truth. A PUBLISH nobody heard
(a consumer starting or reconnecting, a publisher that does not publish) costs at most
``idle_poll``. Both sides use only Dramatiq's own extension points: a middleware on
enqueue, and the Redis broker's ``consumer_class``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from dramatiq import Message, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed


def wake_channel(broker: RedisBroker, queue_name: str) -> str:
    """The pub/sub channel that announces enqueues on ``queue_name`` of ``broker``.

    Channels are server-wide whereas queues live in one database: the number keeps
    brokers on other databases of the same server from waking each other.
    """
    database = broker.client.connection_pool.connection_kwargs.get("db", 0)
    return f"{broker.namespace}:{database}:{queue_name}.wake"


class WakeOnEnqueue(Middleware):
    """Publishes one empty message per enqueue on the queue's wake channel.

    After the enqueue, so a consumer woken by it always finds the message.
    """

    def after_enqueue(self, broker: Any, message: Message[Any], delay: int | None) -> None:
        broker.client.publish(wake_channel(broker, message.queue_name), b"")


class WakingConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, waiting for a wake-up where it would sleep.

    ``timeout`` (the Worker's ``worker_timeout``, ms) bounds every wait, so the worker
    still handles due delayed messages, pauses and stops on time.
    """

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        # Held for the consumer's life: a PUBLISH that lands while it is busy waits in
        # the subscription, so the next wait returns at once and nothing is missed.
        self._wakeups = broker.client.pubsub(ignore_subscribe_messages=True)
        try:
            self._wakeups.subscribe(wake_channel(broker, queue_name))
        except redis.ConnectionError as exc:
            self._wakeups.close()
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        # Set by actor threads as they acknowledge, when every prefetched message is
        # in their hands and the consumer waits for room.
        self._freed = threading.Event()
        # Delayed messages handed out and not yet moved to their queue: the worker moves
        # them only between calls of __next__, so no wait may outlast the earliest.
        # Actor threads remove entries as they acknowledge.
        self._etas: dict[str, int] = {}
        self._etas_lock = threading.Lock()

    def __next__(self) -> Any:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # as Dramatiq's own consumer: skip, never crash
                        continue
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    eta = message.options.get("eta")
                    if isinstance(eta, int | float):
                        with self._etas_lock:
                            self._etas[message.message_id] = int(eta)
                    return MessageProxy(message)
                if self.outstanding_message_count < self.prefetch:
                    self.message_cache = self.broker.do_fetch(
                        self.queue_name, self.prefetch - self.outstanding_message_count
                    )
                    if self.message_cache:
                        continue
                    self._wait_for_enqueue()
                elif self._freed.wait(self._wait_s()):
                    self._freed.clear()
                return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        finally:
            self._settled(message)

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        finally:
            self._settled(message)

    def close(self) -> None:
        self._wakeups.close()

    def _settled(self, message: Any) -> None:
        with self._etas_lock:
            self._etas.pop(message.message_id, None)
        self._freed.set()

    def _wait_s(self) -> float:
        """The worker's timeout, shortened to the earliest delayed message's due time."""
        wait_ms = float(self.timeout)
        with self._etas_lock:
            earliest = min(self._etas.values(), default=None)
        if earliest is not None:
            wait_ms = min(wait_ms, max(earliest - time.time() * 1000, 0.0))
        return wait_ms / 1000

    def _wait_for_enqueue(self) -> None:
        if self._wakeups.get_message(timeout=self._wait_s()) is not None:
            # A burst of enqueues needs one fetch, not one per PUBLISH.
            while self._wakeups.get_message(timeout=0.0) is not None:
                pass


class WakingRedisBroker(RedisBroker):
    """A RedisBroker whose consumers wait for :class:`WakeOnEnqueue`'s wake-ups."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.add_middleware(WakeOnEnqueue())

    @property
    def consumer_class(self) -> type[WakingConsumer]:
        return WakingConsumer
