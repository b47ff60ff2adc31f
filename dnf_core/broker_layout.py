"""What the pipeline keeps in Redis, and where: the layout that the workers (who write
it) and ``dnf_status`` (which reads it from web processes) share.

The readers here take any client with redis-py's method names: a ``redis.Redis`` in
the workers, a :class:`dnf_core.resp.RespConnection` in web processes, which do not
install the ``redis`` package.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
# The schemes redis-py's from_url (and dnf_core.resp) understand; anything else (a
# bare "host:6379") would only fail once the worker connects, with a traceback
# instead of a message.
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")

# The queues' base names. Each database's workers use them suffixed with its namespace
# (:func:`queue_name`; ``sql/queries/broker_namespace.sql`` computes it), so one Redis
# can serve the pipelines of several databases.
EMBED_QUEUE = "dnf_embed"
FEED_QUEUE = "dnf_feed"
# Scheduled whole-feed work (relearning collaborative vectors): its delayed messages
# are plans, not backlog.
MAINTENANCE_QUEUE = "dnf_maintenance"
QUEUES = (EMBED_QUEUE, FEED_QUEUE, MAINTENANCE_QUEUE)

# Dramatiq's Redis broker records every worker's last heartbeat (ms) in this sorted set.
HEARTBEATS = "dramatiq:__heartbeats__"
# Writes the database refused the workers (workers.refusals): one field per source.
REFUSALS = "dnf:write_refusals"
# The source of the relay's own refusals (claiming and deleting outbox rows).
RELAY = "relay"
# The latest measured delay from a write to its task's commit (workers.delays): one
# field per namespace, feed and task kind.
DELAYS = "dnf:write_delays"
# The option of a task's message that holds when its oldest write was captured (epoch
# seconds on the relay's clock).
WRITTEN_AT = "dnf_written_at"


def is_redis_url(value: object) -> bool:
    """Whether ``value`` is a string starting with one of :data:`REDIS_URL_SCHEMES`."""
    return isinstance(value, str) and value.lower().startswith(REDIS_URL_SCHEMES)


def without_password(url: str) -> str:
    """``url`` with its password masked: status pages and logs must not leak it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class BrokerReads(Protocol):
    """The Redis commands the readers below send, by redis-py's names."""

    def pipeline(self) -> Any: ...

    def zrevrange(self, name: str, start: int, end: int, withscores: bool = False) -> Any: ...

    def hgetall(self, name: str) -> Any: ...


def queue_name(queue: str, namespace: str) -> str:
    """The name of base queue ``queue`` for the database whose namespace is ``namespace``.

    An empty namespace leaves the name as it is (tools that run a broker of their own).
    Dramatiq adds ``.DQ`` / ``.XQ`` after it for the delay and dead-letter queues.
    """
    return f"{queue}.{namespace}" if namespace else queue


def message_hashes(namespace: str) -> tuple[str, ...]:
    """The Redis hashes that hold the unacknowledged messages of ``namespace``'s queues.

    Dramatiq's Redis broker keeps each message body in "<ns>:<queue>.msgs" from enqueue
    until the actor acknowledges it (retries wait in the ".DQ" delay queue meanwhile).
    A maintenance task counts once it is due, not while it waits for its time.
    """
    due = (queue_name(q, namespace) for q in (EMBED_QUEUE, FEED_QUEUE))
    return (
        *(f"dramatiq:{queue}{suffix}.msgs" for queue in due for suffix in ("", ".DQ")),
        f"dramatiq:{queue_name(MAINTENANCE_QUEUE, namespace)}.msgs",
    )


def pending_messages(broker: BrokerReads, namespace: str) -> int:
    """Messages of ``namespace``'s database enqueued or waiting for a retry and not yet
    acknowledged, all feeds."""
    pipe = broker.pipeline()
    for key in message_hashes(namespace):
        pipe.hlen(key)
    return sum(int(n) for n in pipe.execute())


def last_heartbeat_age(broker: BrokerReads) -> float | None:
    """Seconds since the most recent heartbeat of any worker, or None if none is known."""
    newest = broker.zrevrange(HEARTBEATS, 0, 0, withscores=True)
    if not newest:
        return None
    return max(time.time() - float(newest[0][1]) / 1000.0, 0.0)


@dataclass(frozen=True)
class WriteRefusal:
    """The latest write the database refused for one feed and task (or the relay)."""

    source: str
    error: str
    refused_at: float

    @property
    def age_s(self) -> float:
        """Seconds since the refusal (0 if the recording host's clock is ahead)."""
        return max(time.time() - self.refused_at, 0.0)


def refusal_record(error: str, refused_at: float) -> str:
    """The value of a source's field in :data:`REFUSALS`."""
    return json.dumps({"error": error, "at": refused_at})


def write_refusals(broker: BrokerReads) -> list[WriteRefusal]:
    """Every refusal recorded and not cleared since, in the order of their sources."""
    refusals = []
    for source, raw in sorted(broker.hgetall(REFUSALS).items()):
        record = json.loads(raw)
        name = source.decode() if isinstance(source, bytes) else str(source)
        refusals.append(WriteRefusal(name, str(record["error"]), float(record["at"])))
    return refusals


@dataclass(frozen=True)
class WriteDelay:
    """The latest measured delay from a write to the commit of the task it asked for."""

    delay_s: float
    measured_at: float

    @property
    def age_s(self) -> float:
        """Seconds since it was measured (0 if the recording host's clock is ahead)."""
        return max(time.time() - self.measured_at, 0.0)


def delay_field(namespace: str, feed_id: str, task: str) -> str:
    """The field of :data:`DELAYS` for one database's feed and task kind."""
    return f"{namespace}:{feed_id}:{task}"


def delay_record(delay_s: float, measured_at: float) -> str:
    """The value of a field of :data:`DELAYS`."""
    return json.dumps({"delay_s": delay_s, "at": measured_at})


def write_delays(broker: BrokerReads, namespace: str) -> dict[tuple[str, str], WriteDelay]:
    """Every delay recorded for ``namespace``'s feeds, by (feed id, task kind)."""
    delays = {}
    for field, raw in broker.hgetall(DELAYS).items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        prefix = f"{namespace}:"
        if not name.startswith(prefix):
            continue
        feed_id, _, task = name[len(prefix) :].rpartition(":")
        record = json.loads(raw)
        delays[feed_id, task] = WriteDelay(float(record["delay_s"]), float(record["at"]))
    return delays
