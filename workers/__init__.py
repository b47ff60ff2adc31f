"""The worker process: relay (LISTEN/NOTIFY + polling) and Dramatiq actors. No Django."""

from workers.config import Mode, WorkerConfig
from workers.process import WorkerProcess
from workers.relay import Relay

__all__ = ["Mode", "Relay", "WorkerConfig", "WorkerProcess"]
