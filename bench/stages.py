"""A real worker process that also writes when each message passed each stage.

``python -m bench.stages`` takes ``dnf-worker``'s flags and runs the same
:class:`~workers.process.WorkerProcess`, plus a middleware that appends one JSON line
per message to ``$DNF_BENCH_STAGE_LOG``: when the relay woke up last before it, when
its enqueue began and ended, when an actor thread started and finished it. The latency
bench joins these with its own commit and detection times. The instrumentation lives
here, in the bench, so the shipped worker carries none of it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from workers.cli import build_parser
from workers.config import Mode, WorkerConfig
from workers.process import WorkerProcess
from workers.relay import Relay

LOG_VARIABLE = "DNF_BENCH_STAGE_LOG"


class StageLog(Middleware):
    """Appends ``{"id", "actor", "keys", "wake", "enq0", "enq1", "start", "end"}`` lines.

    Times are ``time.time()`` seconds, comparable with the bench process's clock.
    Enqueue times are kept in memory until the same process starts the message (mode
    ``all``: relay and actors share the broker object).
    """

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self._enqueued: dict[str, tuple[float, float, float]] = {}
        self._pending: dict[str, float] = {}
        self.last_wake = 0.0

    def before_enqueue(self, broker: Any, message: Any, delay: int) -> None:
        self._pending[message.message_id] = time.time()

    def after_enqueue(self, broker: Any, message: Any, delay: int) -> None:
        began = self._pending.pop(message.message_id, time.time())
        self._enqueued[message.message_id] = (self.last_wake, began, time.time())

    def before_process_message(self, broker: Any, message: Any) -> None:
        message.options["bench_start"] = time.time()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        wake, enq0, enq1 = self._enqueued.pop(message.message_id, (None, None, None))
        keys = message.args[1] if len(message.args) > 1 else []
        line = {
            "id": message.message_id,
            "actor": message.actor_name,
            "keys": keys,
            "wake": wake,
            "enq0": enq0,
            "enq1": enq1,
            "start": message.options.get("bench_start"),
            "end": time.time(),
        }
        with self._lock:
            self._file.write(json.dumps(line) + "\n")


def _time_wake_ups(log: StageLog) -> None:
    """Record when the relay's wait returns (a NOTIFY, or its poll interval)."""
    wait = Relay._wait

    def timed(self: Relay, listener: Any, stop: threading.Event) -> None:
        wait(self, listener, stop)
        log.last_wake = time.time()

    Relay._wait = timed  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """``dnf-worker`` with a stage log; single process only."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = WorkerConfig.from_env(**{k: v for k, v in vars(args).items() if k != "mode"})
    config = WorkerConfig(**{**config.__dict__, "mode": Mode(args.mode)})
    process = WorkerProcess(config)
    log = StageLog(os.environ[LOG_VARIABLE])
    process.broker.add_middleware(log)
    _time_wake_ups(log)
    dramatiq.set_broker(process.broker)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        process.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    process.start()
    try:
        process.wait()
    finally:
        process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
