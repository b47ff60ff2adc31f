"""Start, reuse and stop the dev services: embedded Postgres (pgvector) and Redis.

``DNF_DATABASE_URL`` / ``DNF_REDIS_URL`` name external services instead; those are
reported as given and never started or stopped here.
"""

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from dnf_core.services.postgres import EmbeddedPostgres
from dnf_core.services.redis import EmbeddedRedis

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "ServiceState",
    "ServiceUrls",
    "run_with_services",
    "service_status",
    "start_services",
    "stop_services",
]


@dataclass(frozen=True)
class ServiceUrls:
    """Where the application finds its database and its broker."""

    database_url: str
    redis_url: str

    def exports(self) -> str:
        """Shell lines a Makefile can ``eval``."""
        return (
            f"export DNF_DATABASE_URL='{self.database_url}'\n"
            f"export DNF_REDIS_URL='{self.redis_url}'"
        )


@dataclass(frozen=True)
class ServiceState:
    """One service as ``status`` sees it: state is running, stopped or external."""

    name: str
    state: str
    url: str | None


def start_services() -> ServiceUrls:
    """Start (or reuse) each embedded service not replaced by an external URL."""
    database_url = os.environ.get("DNF_DATABASE_URL") or EmbeddedPostgres().start()
    redis_url = os.environ.get("DNF_REDIS_URL") or EmbeddedRedis().start()
    return ServiceUrls(database_url=database_url, redis_url=redis_url)


def stop_services() -> None:
    """Stop the embedded services that run; external ones are not ours to stop."""
    EmbeddedRedis().stop()
    EmbeddedPostgres().stop()


def service_status() -> list[ServiceState]:
    """Report Postgres and Redis: external URL, or whether the embedded one runs."""
    result = []
    for name, env, service in (
        ("postgres", "DNF_DATABASE_URL", EmbeddedPostgres()),
        ("redis", "DNF_REDIS_URL", EmbeddedRedis()),
    ):
        if external := os.environ.get(env):
            result.append(ServiceState(name, "external", external))
        elif service.is_running():
            result.append(ServiceState(name, "running", service.url))
        else:
            result.append(ServiceState(name, "stopped", None))
    return result


def run_with_services(command: Sequence[str]) -> int:
    """Run ``command`` with the services up and their URLs in its environment.

    Stops afterwards only what this call started: services that already ran (a
    developer's, or external ones) are left as they were.
    """
    was_stopped = {s.name for s in service_status() if s.state == "stopped"}
    urls = start_services()
    env = {**os.environ, "DNF_DATABASE_URL": urls.database_url, "DNF_REDIS_URL": urls.redis_url}
    try:
        return subprocess.call(list(command), env=env)
    finally:
        if "redis" in was_stopped:
            EmbeddedRedis().stop()
        if "postgres" in was_stopped:
            EmbeddedPostgres().stop()
