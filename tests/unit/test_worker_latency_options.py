"""The latency options (relay coalescing, consumer wake-ups and idle poll), flags to behaviour."""

import threading
import time

import pytest

from dnf_core.errors import ConfigurationError
from workers.cli import build_parser
from workers.config import Mode, WorkerConfig
from workers.relay import Relay
from workers.spawn import worker_command


def _parsed(config: WorkerConfig) -> WorkerConfig:
    args = build_parser().parse_args(worker_command(config)[3:])
    return WorkerConfig(**vars(args) | {"mode": Mode(args.mode)})


def test_defaults_wake_consumers_poll_idle_ones_each_second_and_coalesce_50_ms() -> None:
    args = build_parser().parse_args([])
    assert (args.broker_wakeup, args.idle_poll, args.coalesce) == (True, 1.0, 0.05)
    config = WorkerConfig(database_url="dbname=x")
    assert (config.broker_wakeup, config.idle_poll, config.coalesce) == (True, 1.0, 0.05)


def test_the_options_round_trip_through_the_command_line() -> None:
    config = WorkerConfig(database_url="dbname=x", broker_wakeup=False, idle_poll=0.1, coalesce=0.0)
    assert _parsed(config) == config


def test_flags_set_them() -> None:
    args = build_parser().parse_args(
        ["--broker-wakeup", "no", "--idle-poll", "0.25", "--coalesce", "0.2"]
    )
    assert (args.broker_wakeup, args.idle_poll, args.coalesce) == (False, 0.25, 0.2)


@pytest.mark.parametrize("seconds", [0.0, -1.0, 0.0001, 61.0])
def test_an_idle_poll_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="idle poll"):
        WorkerConfig(database_url="dbname=x", idle_poll=seconds)


@pytest.mark.parametrize("seconds", [-0.01, 5.1])
def test_a_coalescing_window_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="coalesce"):
        WorkerConfig(database_url="dbname=x", coalesce=seconds)


class RecordingStop(threading.Event):
    """A stop event that records how long the relay asked to wait, without waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def test_the_relay_claims_at_once_after_a_quiet_spell() -> None:
    relay = Relay("dbname=x", print, coalesce_s=10.0)
    stop = RecordingStop()
    relay._gather(stop)  # nothing moved yet
    relay._moved_at = time.monotonic() - 11.0  # the last batch, longer ago than the window
    relay._gather(stop)
    assert stop.waits == []


def test_the_relay_gathers_writes_for_the_rest_of_the_window_after_a_batch() -> None:
    relay = Relay("dbname=x", print, coalesce_s=10.0)
    stop = RecordingStop()
    relay._moved_at = time.monotonic() - 4.0
    relay._gather(stop)
    (waited,) = stop.waits
    assert 0 < waited <= 6.0


def test_a_window_of_zero_never_waits() -> None:
    relay = Relay("dbname=x", print)
    stop = RecordingStop()
    relay._moved_at = time.monotonic()
    relay._gather(stop)
    assert relay.coalesce_s == 0.0 and stop.waits == []
