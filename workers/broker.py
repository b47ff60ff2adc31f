"""The Redis broker every worker process and relay shares."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from workers.dispatch import QUEUES, queue_name
from workers.wakeup import WakingRedisBroker

SOCKET_TIMEOUT_S = 10


def make_broker(
    redis_url: str,
    *,
    heartbeat_timeout: float = 60.0,
    maintenance_chance: int = 1000,
    wakeup: bool = True,
    namespace: str = "",
) -> RedisBroker:
    """A Redis broker with Dramatiq's default middleware, set as the global broker.

    Queues are declared up front so a relay-only process and the actors agree on them
    even before the first message. With ``wakeup``, enqueues wake idle consumers
    (:mod:`workers.wakeup`) instead of leaving them to find messages by polling.
    """
    broker_class = WakingRedisBroker if wakeup else RedisBroker
    broker = broker_class(  # type: ignore[no-untyped-call]
        url=redis_url,
        heartbeat_timeout=int(heartbeat_timeout * 1000),
        maintenance_chance=maintenance_chance,
        # A Redis that hangs instead of refusing must not stall the relay forever while
        # it holds its claim; Dramatiq's Redis commands never block server-side.
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
    )
    for queue in QUEUES:
        # The queues of one database's pipeline (see workers.database.broker_namespace).
        broker.declare_queue(queue_name(queue, namespace))
    dramatiq.set_broker(broker)
    return broker
