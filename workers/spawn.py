"""Run a worker as a child process (demo, tests, tools, the supervisor) and stop it."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from typing import IO

from workers.config import WorkerConfig


def worker_command(config: WorkerConfig) -> list[str]:
    """The ``dnf-worker`` command line for ``config`` (every field set is a --flag of its name)."""
    command = [sys.executable, "-m", "workers.cli"]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is not None:
            command += [f"--{field.name.replace('_', '-')}", str(value)]
    return command


def spawn_worker(
    config: WorkerConfig,
    *,
    log: IO[bytes] | int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``dnf-worker`` with ``config`` in a child process (``env`` added to ours)."""
    return subprocess.Popen(
        worker_command(config),
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
        env={**os.environ, **env} if env else None,
    )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGTERM (graceful drain), then SIGKILL if it does not exit within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
