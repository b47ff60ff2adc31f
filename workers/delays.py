"""How long writes take to reach what they change, measured on every task, kept in Redis.

The relay stamps each message with when the oldest write it answers was captured
(``dnf_core.broker_layout.WRITTEN_AT``); once the actor has committed, this
middleware records the time since then under the database's namespace, feed and
task kind. ``dnf_status`` and the admin show the latest per feed: a live figure of
the pipeline's freshness that needs no benchmark. Work no write asked for (a backfill,
a rebuild) carries no stamp and measures nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy

from dnf_core.broker_layout import DELAYS, WRITTEN_AT, delay_field, delay_record
from dnf_core.events import TaskKind

__all__ = ["DelayRecorder"]

logger = logging.getLogger(__name__)


class DelayRecorder(dramatiq.Middleware):
    """Records the write-to-commit delay of each stamped message that succeeds."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        written_at = message.options.get(WRITTEN_AT)
        name = message.actor_name.removeprefix("dnf_")
        if exception is not None or written_at is None or not message.args:
            return
        if name not in TaskKind.__members__.values():
            return
        now = time.time()
        field = delay_field(self.namespace, str(message.args[0]), name)
        try:
            self.client.hset(DELAYS, field, delay_record(max(now - float(written_at), 0.0), now))
        except redis.RedisError:
            # A figure for people, not work: the next message measures again.
            logger.warning("could not record the delay of %s", field, exc_info=True)
