"""Run a worker as a child process (demo, tests, tools) and stop it gracefully."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import IO

from workers.config import WorkerConfig


def spawn_worker(
    config: WorkerConfig, *, log: IO[bytes] | int | None = None
) -> subprocess.Popen[bytes]:
    """Start ``dnf-worker`` with ``config`` in a child process."""
    command = [
        sys.executable,
        "-m",
        "workers.cli",
        "--database-url",
        config.database_url,
        "--redis-url",
        config.redis_url,
        "--mode",
        config.mode.value,
        "--threads",
        str(config.threads),
        "--poll-interval",
        str(config.poll_interval),
        "--max-retries",
        str(config.max_retries),
    ]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT if log else None)


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
