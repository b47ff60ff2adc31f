"""A worker's health file, and the relay's LISTEN connection on a URL of its own."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from catalog.models import Movie
from dnf_core.events import Task
from tests.conftest import wait_until
from workers.config import Mode, WorkerConfig
from workers.health import HealthFile
from workers.relay import Relay
from workers.spawn import spawn_worker, stop_worker

pytestmark = pytest.mark.services


def probe(path: Path) -> int:
    """What the container health check runs."""
    command = [sys.executable, "-m", "workers.healthcheck", str(path), "--max-age", "5"]
    return subprocess.run(command, capture_output=True).returncode


@pytest.mark.parametrize("mode", [Mode.RELAY, Mode.ACTORS])
def test_a_running_worker_beats_its_file_and_clears_it_on_stop(
    mode: Mode, start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    alive = tmp_path / "alive"
    assert probe(alive) == 1
    worker = start_worker(mode=mode, health_file=str(alive), backfill=False)
    wait_until(lambda: probe(alive) == 0, timeout=60, what="a healthy beat")
    first = HealthFile(alive).age()
    wait_until(lambda: (HealthFile(alive).age() or 99) < (first or 0), what="another beat")
    worker.terminate()
    assert worker.wait(60) == 0
    assert probe(alive) == 1


def test_a_relay_that_cannot_reach_postgres_never_reports_healthy(
    start_worker: Callable[..., subprocess.Popen[bytes]],
    clean_pipeline: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    alive, healthy = tmp_path / "relay-down", tmp_path / "relay-up"
    broken = WorkerConfig(
        database_url=make_conninfo(clean_pipeline, dbname="dnf_no_such_database"),
        redis_url=redis_url,
        mode=Mode.RELAY,
        backfill=False,
        health_file=str(alive),
    )
    process = spawn_worker(broken, log=subprocess.DEVNULL)
    try:
        # A healthy relay started after it beats first: the broken one had as long.
        start_worker(mode=Mode.RELAY, health_file=str(healthy), backfill=False)
        wait_until(lambda: probe(healthy) == 0, timeout=60, what="the healthy relay's beat")
        assert process.poll() is None  # still retrying, not exited
        assert probe(alive) == 1
    finally:
        stop_worker(process)


def test_the_relay_listens_on_the_session_url(clean_pipeline: str) -> None:
    from django.db import connection

    session = make_conninfo(clean_pipeline, application_name="dnf-session-test")
    sent: list[Task] = []
    # A poll interval far beyond the test's bounds: only a NOTIFY can wake the relay.
    relay = Relay(clean_pipeline, sent.append, poll_interval=600, listen_url=session)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:

        def listening() -> bool:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT query FROM pg_stat_activity WHERE application_name = %s",
                    ["dnf-session-test"],
                )
                return [row[0] for row in cur.fetchall()] == ["LISTEN dnf_outbox"]

        wait_until(listening, timeout=30, what="LISTEN on the session connection")
        movie = Movie.objects.create(title="woken by NOTIFY")
        wait_until(lambda: [str(movie.pk)] in [list(t.keys) for t in sent], timeout=30)
    finally:
        stop.set()
        thread.join(10)
