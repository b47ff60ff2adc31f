"""Worker processes: several at once, graceful SIGTERM, and SIGKILL that loses nothing."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

import psutil
import pytest

from catalog.models import Movie
from tests.conftest import set_feed_encoder, wait_until

pytestmark = pytest.mark.services

# Short enough that a killed worker's messages come back within the test's bounds.
FAST_RECOVERY = {"heartbeat_timeout": 2.0, "maintenance_chance": 1_000_000}


def embedded() -> int:
    return Movie.objects.filter(embedding__isnull=False).count()


def test_several_processes_share_the_work_and_stop_together(
    hashing_encoder: None, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    supervisor = start_worker(processes=2, threads=2)
    wait_until(
        lambda: len(psutil.Process(supervisor.pid).children()) == 2, what="2 actor processes"
    )
    children = psutil.Process(supervisor.pid).children()
    Movie.objects.bulk_create([Movie(title=f"film {i}") for i in range(600)])
    wait_until(lambda: embedded() == 600, what="600 movies embedded")

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(60) == 0
    assert not any(
        child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children
    )


def test_sigterm_drains_and_sigkill_loses_nothing(
    hashing_encoder: None, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    set_feed_encoder("movies", "tests.encoders.SlowEncoder", "hashing-384")
    Movie.objects.bulk_create([Movie(title=f"film {i}") for i in range(2000)])

    first = start_worker(threads=2, **FAST_RECOVERY)
    wait_until(lambda: embedded() > 0, what="the first batches")
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 0  # graceful: finished or returned what it held

    second = start_worker(threads=2, **FAST_RECOVERY)
    progress = embedded()
    wait_until(lambda: embedded() > progress, what="the second worker at work")
    second.kill()  # SIGKILL mid-batch: its messages stay unacknowledged in Redis
    second.wait()

    start_worker(threads=4, **FAST_RECOVERY)
    wait_until(lambda: embedded() == 2000, what="every movie embedded after the kill")
