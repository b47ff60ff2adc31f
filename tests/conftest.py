"""Fixtures for tests that run against the real services (Postgres + pgvector, Redis).

``make test`` starts the embedded services and exports their URLs; tests use the
Django test database on that server and their own Redis database number.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from workers.config import WorkerConfig
from workers.spawn import spawn_worker, stop_worker

# The `neural_feed` fixture, as users get it from the pytest11 entry point (this name
# matches the entry point's, so an installed entry point is not registered twice).
pytest_plugins = ["dnf_django.testing.pytest"]

# Model hubs are unreachable here: fail at once instead of waiting on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Bounds, not tuned sleeps: each wait returns as soon as its condition holds.
WAIT_TIMEOUT_S = 120.0
LOGS = Path(__file__).resolve().parents[1] / ".dnf" / "test-logs"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The key-type matrix has settings of its own (a user model per run): make test
    # runs it separately, once per user key type.
    keys = Path(__file__).resolve().parent / "keys"
    if (
        collection_path == keys
        and os.environ.get("DJANGO_SETTINGS_MODULE") != "tests.keys.settings"
    ):
        return True
    return None


def wait_until(
    condition: Callable[[], Any], timeout: float = WAIT_TIMEOUT_S, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(0.1)


def namespace_of(database_url: str) -> str:
    """The broker namespace the workers of ``database_url``'s database use."""
    from workers.database import broker_namespace, connect

    with connect(database_url) as conn:
        return broker_namespace(conn)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("DNF_REDIS_URL")
    if not url:
        pytest.fail("DNF_REDIS_URL is not set: run the tests with `make test`")
    # A database number of its own, so tests never see a developer's queues.
    return url.rsplit("/", 1)[0] + "/15" if url.count("/") >= 3 else url + "/15"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def database_url(transactional_db: None) -> str:
    from dnf_django.endpoints import database_url

    return database_url()


@pytest.fixture
def clean_pipeline(database_url: str, redis_client: redis.Redis) -> Iterator[str]:
    """Committed data (workers run in other processes), an empty outbox, empty queues."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_outbox")
    yield database_url
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_outbox")


def set_feed_encoder(feed_id: str, encoder: str, model_name: str) -> dict[str, Any]:
    """Point a registered feed at another encoder; returns the previous spec."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT spec FROM dnf_feed WHERE feed_id = %s", [feed_id])
        (previous,) = cur.fetchone()
        if isinstance(previous, str):
            previous = json.loads(previous)
        spec = previous | {"encoder": encoder, "model_name": model_name}
        cur.execute(
            "UPDATE dnf_feed SET spec = %s::jsonb WHERE feed_id = %s", [json.dumps(spec), feed_id]
        )
    return dict(previous)


@pytest.fixture
def hashing_encoder(clean_pipeline: str) -> Iterator[None]:
    """Swap every installed feed's model for the fast deterministic encoder."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT feed_id FROM dnf_feed")
        feed_ids = [row[0] for row in cur.fetchall()]
    previous = {
        f: set_feed_encoder(f, "dnf_core.encoders.HashingEncoder", "hashing-384") for f in feed_ids
    }
    # Nothing is embedded yet: the feeds serve the model they are now installed with
    # (the migrations recorded the one they installed).
    with connection.cursor() as cur:
        cur.execute("DELETE FROM dnf_embedding_model")
    yield
    with connection.cursor() as cur:
        for feed_id, spec in previous.items():
            cur.execute(
                "UPDATE dnf_feed SET spec = %s::jsonb WHERE feed_id = %s",
                [json.dumps(spec), feed_id],
            )


@pytest.fixture
def start_worker(
    clean_pipeline: str, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real worker processes (relay + Dramatiq actors) on the test database."""
    started: list[subprocess.Popen[bytes]] = []
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{request.node.name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in teardown

    def start(**overrides: Any) -> subprocess.Popen[bytes]:
        # Overrides may replace the URLs too: a test may run its worker as another role.
        defaults = {"database_url": clean_pipeline, "redis_url": redis_url, "poll_interval": 0.5}
        config = WorkerConfig(**{**defaults, **overrides})
        process = spawn_worker(config, log=log)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process, timeout=30)
    log.close()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(log_path.read_text(errors="replace")[-5000:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# Upstream django-neural-feed's weights: tests of the formula's mechanics (which item
# wins, what explain adds up) were written against them; the defaults themselves are
# chosen and measured by dnf_evaluate (make bench BENCH=quality).
UPSTREAM_WEIGHTS = {
    "WEIGHT_SIMILARITY": 0.6,
    "WEIGHT_FRESHNESS": 0.2,
    "WEIGHT_POPULARITY": 0.2,
    "WEIGHT_COLLABORATIVE": 0.0,
}


@pytest.fixture
def upstream_weights(settings: Any) -> None:
    """Rank with upstream's weights for the test."""
    settings.DJANGO_NEURAL_FEED = {**settings.DJANGO_NEURAL_FEED, **UPSTREAM_WEIGHTS}
