"""``dnf-worker``: the framework-free worker command (URLs from flags or environment)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from dnf_core.errors import NeuralFeedError
from workers.config import Mode, WorkerConfig
from workers.process import WorkerProcess
from workers.supervisor import Supervisor


def build_parser() -> argparse.ArgumentParser:
    """Arguments shared by ``dnf-worker`` and ``manage.py dnf_worker``."""
    parser = argparse.ArgumentParser(prog="dnf-worker", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--database-url", help="Postgres URL (default: $DNF_DATABASE_URL)")
    parser.add_argument(
        "--session-database-url",
        help="Postgres URL for LISTEN and the backfill lock, past any transaction pooler "
        "(default: $DNF_SESSION_DATABASE_URL, else the database URL)",
    )
    parser.add_argument("--redis-url", help="Redis URL (default: $DNF_REDIS_URL)")
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every worker entry point takes."""
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.ALL.value,
        help="run the relay and the actors (all), or only one of them",
    )
    parser.add_argument("--processes", type=int, default=1, help="actor processes (default 1)")
    parser.add_argument(
        "--threads", type=int, default=4, help="actor threads per process (default 4)"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=20,
        help="retries of a failed message before it is recorded in dnf_failure (default 20)",
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=60.0,
        help="seconds without heartbeat before a worker's messages are redelivered (default 60)",
    )
    parser.add_argument(
        "--maintenance-chance",
        type=int,
        default=1000,
        help="broker commands per million that look for dead workers (default 1000)",
    )
    parser.add_argument(
        "--backfill",
        type=_boolean,
        default=True,
        help="at start, queue rows that predate a feed whose backfill never finished "
        "(default yes; 'no' leaves it to manage.py dnf_backfill)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="seconds between outbox polls when no NOTIFY arrives (default 2)",
    )
    parser.add_argument(
        "--coalesce",
        type=float,
        default=0.05,
        help="under sustained writes, seconds between the relay's claims, so each message "
        "carries many events (default 0.05; 0 claims on every NOTIFY)",
    )
    parser.add_argument(
        "--broker-wakeup",
        type=_boolean,
        default=True,
        help="wake idle actor consumers on each enqueue through Redis pub/sub (default yes; "
        "'no' leaves them to find messages every --idle-poll)",
    )
    parser.add_argument(
        "--idle-poll",
        type=float,
        default=1.0,
        help="seconds between fetches of an idle actor consumer (default 1)",
    )
    parser.add_argument(
        "--health-file",
        help="touch this file every second while healthy, for `python -m workers.healthcheck FILE`",
    )


def _boolean(value: str) -> bool:
    words = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
    try:
        return words[value.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected yes or no, got {value!r}") from None


def serve(config: WorkerConfig) -> None:
    """Run a worker process until SIGTERM or SIGINT, then stop gracefully."""
    process: WorkerProcess | Supervisor = (
        Supervisor(config) if config.processes > 1 else WorkerProcess(config)
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %d: stopping gracefully", signum)
        process.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    process.start()
    try:
        process.wait()
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dnf-worker`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = WorkerConfig.from_env(
            database_url=args.database_url,
            session_database_url=args.session_database_url,
            redis_url=args.redis_url,
            mode=Mode(args.mode),
            threads=args.threads,
            processes=args.processes,
            poll_interval=args.poll_interval,
            coalesce=args.coalesce,
            broker_wakeup=args.broker_wakeup,
            idle_poll=args.idle_poll,
            max_retries=args.max_retries,
            heartbeat_timeout=args.heartbeat_timeout,
            maintenance_chance=args.maintenance_chance,
            backfill=args.backfill,
            health_file=args.health_file,
        )
        serve(config)
    except NeuralFeedError as exc:
        print(f"dnf-worker: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
