"""Where the worker finds its services: arguments, else environment, else defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

# Defined beside the rest of the broker's layout, where web processes read them too.
from dnf_core.broker_layout import DEFAULT_REDIS_URL, REDIS_URL_SCHEMES, is_redis_url
from dnf_core.errors import ConfigurationError

__all__ = ["DEFAULT_REDIS_URL", "REDIS_URL_SCHEMES", "Mode", "WorkerConfig", "is_redis_url"]


class Mode(StrEnum):
    """Which parts one worker process runs; split them to scale out."""

    ALL = "all"
    RELAY = "relay"
    ACTORS = "actors"


@dataclass(frozen=True)
class WorkerConfig:
    """Settings of one worker process."""

    database_url: str
    redis_url: str = DEFAULT_REDIS_URL
    # LISTEN and the backfill's session lock need a connection that keeps its session,
    # which a transaction-pooling proxy (PgBouncer) does not: point this one past it.
    session_database_url: str | None = None
    mode: Mode = Mode.ALL
    threads: int = 4
    processes: int = 1
    poll_interval: float = 2.0
    # Enqueues wake idle actor consumers through Redis pub/sub (workers.wakeup); an
    # idle consumer also fetches every idle_poll seconds, which is all that finds
    # messages without wake-ups (then 0.1 s keeps the pick-up lag near 40 ms).
    broker_wakeup: bool = True
    idle_poll: float = 1.0
    # Under sustained writes the relay claims at most once per this many seconds, so
    # each message carries many events' keys (workers.relay.Relay._gather).
    coalesce: float = 0.05
    max_retries: int = 20
    # After this long without a heartbeat, a worker counts as dead and the messages
    # it held are redelivered (Dramatiq's Redis broker); checked on this share of
    # broker commands, out of a million.
    heartbeat_timeout: float = 60.0
    maintenance_chance: int = 1000
    # Relays backfill feeds whose backfill never finished when they start.
    backfill: bool = True
    # Touched every second while the process is healthy, for a container health check
    # (``python -m workers.healthcheck FILE``).
    health_file: str | None = None

    def __post_init__(self) -> None:
        if not self.database_url:
            raise ConfigurationError("no database URL: pass --database-url or set DNF_DATABASE_URL")
        if not is_redis_url(self.redis_url):
            raise ConfigurationError(
                f"Redis URL {self.redis_url!r} must start with "
                f"{', '.join(REDIS_URL_SCHEMES)} (from --redis-url, DNF_REDIS_URL "
                "or DJANGO_NEURAL_FEED['REDIS_URL'])"
            )
        if self.processes < 1:
            raise ConfigurationError(f"processes must be at least 1, got {self.processes}")
        if self.threads < 1:
            raise ConfigurationError(f"threads must be at least 1, got {self.threads}")
        if self.heartbeat_timeout <= 0 or not 0 < self.maintenance_chance <= 1_000_000:
            raise ConfigurationError(
                "heartbeat timeout must be positive and maintenance chance in 1..1000000"
            )
        if self.max_retries < 0:
            raise ConfigurationError(f"max retries must be >= 0, got {self.max_retries}")
        if self.poll_interval <= 0:
            raise ConfigurationError(f"poll interval must be positive, got {self.poll_interval}")
        if not 0 <= self.coalesce <= 5:
            raise ConfigurationError(
                f"coalesce must be between 0 and 5 seconds, got {self.coalesce}"
            )
        if not 0.001 <= self.idle_poll <= 60:
            raise ConfigurationError(
                f"idle poll must be between 0.001 and 60 seconds, got {self.idle_poll}"
            )

    @property
    def session_url(self) -> str:
        """Where LISTEN and session locks connect: the session URL, else the database URL."""
        return self.session_database_url or self.database_url

    @classmethod
    def from_env(cls, **overrides: object) -> WorkerConfig:
        """Build from ``DNF_DATABASE_URL`` / ``DNF_SESSION_DATABASE_URL`` / ``DNF_REDIS_URL``.

        Explicit values win over the environment.
        """
        values: dict[str, object] = {
            "database_url": os.environ.get("DNF_DATABASE_URL", ""),
            "session_database_url": os.environ.get("DNF_SESSION_DATABASE_URL") or None,
            "redis_url": os.environ.get("DNF_REDIS_URL", DEFAULT_REDIS_URL),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
