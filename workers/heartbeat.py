"""When a Dramatiq worker last reported to Redis, from the broker's own bookkeeping."""

from __future__ import annotations

import time

import redis

# Dramatiq's Redis broker records every worker's last heartbeat (ms) in this sorted set.
HEARTBEATS = "dramatiq:__heartbeats__"


def last_heartbeat_age(broker: redis.Redis) -> float | None:
    """Seconds since the most recent heartbeat of any worker, or None if none is known."""
    newest = broker.zrevrange(HEARTBEATS, 0, 0, withscores=True)
    if not newest:
        return None
    return max(time.time() - float(newest[0][1]) / 1000.0, 0.0)
