import pytest

from dnf_core.errors import ConfigurationError
from workers.cli import build_parser
from workers.config import Mode, WorkerConfig
from workers.spawn import worker_command


def test_every_config_field_round_trips_through_the_command_line() -> None:
    config = WorkerConfig(
        database_url="dbname=x",
        redis_url="redis://h:1/2",
        session_database_url="dbname=x port=6432",
        mode=Mode.RELAY,
        threads=3,
        processes=2,
        poll_interval=0.5,
        max_retries=0,
        heartbeat_timeout=5.0,
        maintenance_chance=1_000_000,
        backfill=False,
        health_file="/tmp/alive",
    )
    args = build_parser().parse_args(worker_command(config)[3:])
    assert (
        WorkerConfig(**{k: v for k, v in vars(args).items()} | {"mode": Mode(args.mode)}) == config
    )


def test_unset_optional_fields_round_trip_too() -> None:
    config = WorkerConfig(database_url="dbname=x")
    command = worker_command(config)
    assert "--session-database-url" not in command and "--health-file" not in command
    args = build_parser().parse_args(command[3:])
    assert WorkerConfig(**vars(args) | {"mode": Mode(args.mode)}) == config


def test_environment_supplies_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNF_DATABASE_URL", "dbname=env")
    monkeypatch.delenv("DNF_REDIS_URL", raising=False)
    monkeypatch.delenv("DNF_SESSION_DATABASE_URL", raising=False)
    config = WorkerConfig.from_env(threads=None)
    assert config.database_url == "dbname=env" and config.redis_url == "redis://localhost:6379/0"
    # Without a session URL, LISTEN goes where everything else goes.
    assert config.session_url == "dbname=env"


def test_the_session_url_comes_from_the_environment_or_a_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DNF_DATABASE_URL", "host=pgbouncer port=6432")
    monkeypatch.setenv("DNF_SESSION_DATABASE_URL", "host=postgres port=5432")
    assert WorkerConfig.from_env().session_url == "host=postgres port=5432"
    flag = WorkerConfig.from_env(session_database_url="host=replica")
    assert (flag.database_url, flag.session_url) == ("host=pgbouncer port=6432", "host=replica")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"database_url": ""}, "no database URL"),
        ({"threads": 0}, "threads"),
        ({"processes": 0}, "processes"),
        ({"poll_interval": 0}, "poll interval"),
        ({"max_retries": -1}, "max retries"),
        ({"maintenance_chance": 0}, "maintenance chance"),
        # Without a scheme redis-py would fail at the first connection, with a traceback.
        ({"redis_url": "localhost:6379"}, "'localhost:6379' must start with redis://"),
    ],
)
def test_bad_settings_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        WorkerConfig(**({"database_url": "dbname=x"} | change))


def test_backfill_takes_yes_or_no() -> None:
    parser = build_parser()
    assert parser.parse_args(["--backfill", "no"]).backfill is False
    assert parser.parse_args(["--backfill", "YES"]).backfill is True
    assert parser.parse_args([]).backfill is True
    with pytest.raises(SystemExit):
        parser.parse_args(["--backfill", "maybe"])


def test_a_redis_url_without_a_scheme_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.cli import main

    monkeypatch.setenv("DNF_REDIS_URL", "localhost:6379")
    assert main(["--database-url", "dbname=x"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("dnf-worker: Redis URL 'localhost:6379' must start with redis://")
    assert "DNF_REDIS_URL" in error
