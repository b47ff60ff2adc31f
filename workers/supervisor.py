"""Several actor processes under one command: ``dnf-worker --processes N``.

Python threads share one GIL, and encoding plus result handling is partly Python, so
scaling on one machine means processes. The supervisor runs the relay itself (when
its mode includes it) and N child processes of actors; it restarts a child that
dies, and on stop passes SIGTERM on so every child drains gracefully.
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import threading

from workers.config import Mode, WorkerConfig
from workers.health import HealthFile
from workers.process import WorkerProcess
from workers.spawn import spawn_worker, stop_worker

logger = logging.getLogger(__name__)


class Supervisor:
    """Same interface as :class:`WorkerProcess`: start, wait, request_stop, stop."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        # The supervisor alone beats the health file, for itself and its children.
        self.child_config = dataclasses.replace(
            config, mode=Mode.ACTORS, processes=1, health_file=None
        )
        self.relay = (
            WorkerProcess(
                dataclasses.replace(config, mode=Mode.RELAY, processes=1, health_file=None)
            )
            if config.mode in (Mode.ALL, Mode.RELAY)
            else None
        )
        self.children: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._health = HealthFile(config.health_file) if config.health_file else None

    def start(self) -> None:
        if self.relay is not None:
            self.relay.start()
        if self.config.mode in (Mode.ALL, Mode.ACTORS):
            self.children = [spawn_worker(self.child_config) for _ in range(self.config.processes)]
            logger.info("started %d actor processes", len(self.children))

    def request_stop(self) -> None:
        self._stop.set()

    def wait(self) -> None:
        """Block until stopped, restarting children that exit on their own."""
        while not self._stop.wait(1.0):
            restarted = False
            for i, child in enumerate(self.children):
                if child.poll() is not None:
                    logger.warning(
                        "actor process %d exited with %s; restarting", child.pid, child.returncode
                    )
                    self.children[i] = spawn_worker(self.child_config)
                    restarted = True
            # A child that had to be restarted skips one beat; one that keeps dying
            # keeps the supervisor unhealthy.
            if self._health is not None and not restarted and self.healthy():
                self._health.beat()

    def healthy(self) -> bool:
        """Every actor process is running and the relay (if any) is healthy."""
        relay_ok = self.relay is None or self.relay.healthy()
        return relay_ok and all(child.poll() is None for child in self.children)

    def stop(self) -> None:
        self._stop.set()
        if self._health is not None:
            self._health.clear()
        stoppers = [threading.Thread(target=stop_worker, args=(c,)) for c in self.children]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if self.relay is not None:
            self.relay.stop()
