"""One worker process: the relay thread and the Dramatiq actors, started and stopped together."""

from __future__ import annotations

import logging
import threading

import dramatiq
import redis

from workers.actors import declare_actors
from workers.backfill import backfill_watch
from workers.broker import make_broker
from workers.config import Mode, WorkerConfig
from workers.database import ThreadConnections, wait_for_namespace
from workers.delays import DelayRecorder
from workers.dispatch import Dispatcher
from workers.failures import FailureRecorder
from workers.health import HealthFile
from workers.refusals import RELAY, WriteRefusalRecorder, clear_refusal, record_refusal, refusal_of
from workers.relay import Relay
from workers.runtime import Runtime

logger = logging.getLogger(__name__)

# How long a graceful stop waits for messages in flight before giving them back.
STOP_TIMEOUT_MS = 30_000
# A relay counts as stalled after this long without progress beyond its poll interval:
# long enough for a slow batch, short enough that a relay stuck retrying shows.
RELAY_STALL_S = 30.0


class WorkerProcess:
    """Runs what ``config.mode`` asks for until :meth:`stop`."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        # Queues carry the database's namespace: this worker's relay and actors agree on
        # it, and workers of other databases sharing the Redis never see these messages.
        self.namespace = wait_for_namespace(config.database_url)
        self.broker = make_broker(
            config.redis_url,
            heartbeat_timeout=config.heartbeat_timeout,
            maintenance_chance=config.maintenance_chance,
            wakeup=config.broker_wakeup,
            namespace=self.namespace,
        )
        self.dispatcher = Dispatcher(self.broker, namespace=self.namespace)
        self._stop = threading.Event()
        self._relay: Relay | None = None
        self._relay_thread: threading.Thread | None = None
        self._worker: dramatiq.Worker | None = None
        self._health = HealthFile(config.health_file) if config.health_file else None

    def start(self) -> None:
        """Start the relay thread and/or the actor threads."""
        if self.config.mode in (Mode.ALL, Mode.ACTORS):
            connections = ThreadConnections(self.config.database_url)
            self.broker.add_middleware(FailureRecorder(connections))
            # In Redis: a database that refuses writes refuses the failure record too.
            self.broker.add_middleware(WriteRefusalRecorder(self.broker.client))
            self.broker.add_middleware(DelayRecorder(self.broker.client, self.namespace))
            runtime = Runtime(connections, self.dispatcher.send)
            declare_actors(
                self.broker, runtime, namespace=self.namespace, max_retries=self.config.max_retries
            )
            # An idle consumer fetches every worker_timeout ms; woken by enqueues it
            # needs no short one (see workers.wakeup and docs/tuning.md).
            self._worker = dramatiq.Worker(
                self.broker,
                worker_threads=self.config.threads,
                worker_timeout=round(self.config.idle_poll * 1000),
            )
            self._worker.start()
            logger.info("actors running with %d threads", self.config.threads)
        if self.config.mode in (Mode.ALL, Mode.RELAY):
            self._relay = Relay(
                self.config.database_url,
                self.dispatcher.send,
                poll_interval=self.config.poll_interval,
                listen_url=self.config.session_url,
                on_outcome=self._relay_outcome,
                coalesce_s=self.config.coalesce,
            )
            self._relay_thread = threading.Thread(
                target=self._relay.run, args=(self._stop,), name="dnf-relay", daemon=True
            )
            self._relay_thread.start()
            logger.info("relay running, polling every %.1fs", self.config.poll_interval)
            if self.config.backfill:
                # Rows that predate a feed reach the pipeline without anyone running a
                # command; feeds whose backfill finished are skipped in one query. It
                # stays up for the rows bulk imports hand back while capture is paused.
                # Its lock is a session lock and it LISTENs, hence the session URL.
                threading.Thread(
                    target=backfill_watch,
                    args=(self.config.session_url, self._stop),
                    name="dnf-backfill",
                    daemon=True,
                ).start()

    def _relay_outcome(self, failure: BaseException | None) -> None:
        """Record the relay's refused writes for dnf_status; clear them once it drains."""
        refusal = None if failure is None else refusal_of(failure)
        if refusal is not None:
            record_refusal(self.broker.client, RELAY, refusal)
        elif failure is None:
            clear_refusal(self.broker.client, RELAY)

    def request_stop(self) -> None:
        """Ask :meth:`wait` to return; safe to call from a signal handler."""
        self._stop.set()

    def wait(self) -> None:
        """Block until :meth:`request_stop` is called, beating the health file meanwhile."""
        while not self._stop.wait(1.0):
            if self._health is not None and self.healthy():
                self._health.beat()

    def healthy(self) -> bool:
        """The relay (if running) made progress lately and the broker (if used) answers."""
        if self._relay is not None and (
            self._relay_thread is None
            or not self._relay_thread.is_alive()
            or self._relay.progress_age() > self.config.poll_interval + RELAY_STALL_S
        ):
            return False
        if self._worker is not None:
            try:
                self.broker.client.ping()
            except redis.RedisError:
                return False
        return True

    def stop(self) -> None:
        """Stop the relay, then let actors finish their messages and return the rest."""
        self._stop.set()
        if self._health is not None:
            self._health.clear()
        if self._relay_thread is not None:
            self._relay_thread.join(timeout=10)
        if self._worker is not None:
            self._worker.stop(timeout=STOP_TIMEOUT_MS)
        self.broker.close()
