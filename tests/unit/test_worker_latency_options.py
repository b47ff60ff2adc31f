"""The consumer wake-up and idle-poll options, from flags to WorkerConfig."""

import pytest

from dnf_core.errors import ConfigurationError
from workers.cli import build_parser
from workers.config import Mode, WorkerConfig
from workers.spawn import worker_command


def _parsed(config: WorkerConfig) -> WorkerConfig:
    args = build_parser().parse_args(worker_command(config)[3:])
    return WorkerConfig(**vars(args) | {"mode": Mode(args.mode)})


def test_defaults_wake_consumers_and_poll_idle_ones_each_second() -> None:
    args = build_parser().parse_args([])
    assert (args.broker_wakeup, args.idle_poll) == (True, 1.0)
    config = WorkerConfig(database_url="dbname=x")
    assert (config.broker_wakeup, config.idle_poll) == (True, 1.0)


def test_the_options_round_trip_through_the_command_line() -> None:
    config = WorkerConfig(database_url="dbname=x", broker_wakeup=False, idle_poll=0.1)
    assert _parsed(config) == config


def test_flags_set_them() -> None:
    args = build_parser().parse_args(["--broker-wakeup", "no", "--idle-poll", "0.25"])
    assert (args.broker_wakeup, args.idle_poll) == (False, 0.25)


@pytest.mark.parametrize("seconds", [0.0, -1.0, 0.0001, 61.0])
def test_an_idle_poll_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="idle poll"):
        WorkerConfig(database_url="dbname=x", idle_poll=seconds)
