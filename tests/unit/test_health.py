"""The liveness file and its probe, ``python -m workers.healthcheck FILE``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.health import HealthFile
from workers.healthcheck import main


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_fresh_beat_is_healthy_and_an_old_one_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    health = HealthFile(tmp_path / "alive")
    health.beat()
    assert main([str(health.path), "--max-age", "5"]) == 0
    _age(health.path, 60)
    assert 59 < (health.age() or 0) < 70
    assert main([str(health.path), "--max-age", "30"]) == 1
    assert "last beat 60 s ago (limit 30 s)" in capsys.readouterr().err
    health.beat()  # beating again makes it fresh
    assert main([str(health.path)]) == 0


def test_a_process_that_never_beat_or_stopped_is_unhealthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    health = HealthFile(tmp_path / "alive")
    assert health.age() is None
    assert main([str(health.path)]) == 1
    assert "never reported healthy" in capsys.readouterr().err
    health.beat()
    health.clear()
    health.clear()  # clearing twice is fine: a stop after a failed start
    assert main([str(health.path)]) == 1


def test_a_bad_limit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "alive"), "--max-age", "0"]) == 2
    assert "--max-age must be positive" in capsys.readouterr().err


def test_the_probe_runs_as_a_module(tmp_path: Path) -> None:
    # What a container health check runs: the exit status is the verdict.
    alive = tmp_path / "alive"
    probe = [sys.executable, "-m", "workers.healthcheck", str(alive), "--max-age", "10"]
    assert subprocess.run(probe, capture_output=True).returncode == 1
    HealthFile(alive).beat()
    assert subprocess.run(probe, capture_output=True).returncode == 0
