"""compose.yaml: the services a deployment needs, healthy, durable and scalable.

No Docker engine runs the tests, so the file is checked as data: its commands are
parsed by the very parsers the containers run, so a renamed flag fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from workers.cli import build_parser
from workers.config import Mode
from workers.healthcheck import build_parser as build_probe_parser

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    return dict(compose["services"])


def _worker_args(service: dict[str, Any]) -> Any:
    command = service["command"]
    assert command[0] == "dnf-worker"
    return build_parser().parse_args(command[1:])


def test_the_services_are_postgres_with_pgvector_redis_the_relay_and_the_workers(
    services: dict[str, Any],
) -> None:
    assert set(services) == {"postgres", "redis", "relay", "worker"}
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert _worker_args(services["relay"]).mode == Mode.RELAY
    assert _worker_args(services["worker"]).mode == Mode.ACTORS


def test_redis_persists_append_only(services: dict[str, Any]) -> None:
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


@pytest.mark.parametrize("name", ["postgres", "redis", "relay", "worker"])
def test_every_service_has_a_health_check(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert check["retries"] >= 1


@pytest.mark.parametrize("name", ["relay", "worker"])
def test_worker_health_checks_probe_the_file_their_process_beats(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    test = service["healthcheck"]["test"]
    assert test[1:4] == ["python", "-m", "workers.healthcheck"]
    probe = build_probe_parser().parse_args(test[4:])
    assert probe.file == _worker_args(service).health_file
    # The process beats every second; the limit leaves room for a slow beat.
    assert probe.max_age >= 5


@pytest.mark.parametrize("name", ["relay", "worker"])
def test_workers_start_after_healthy_services_and_find_them_by_name(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    assert service["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    env = service["environment"]
    assert urlsplit(env["DNF_DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(env["DNF_SESSION_DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(env["DNF_REDIS_URL"]).hostname == "redis"
    # SIGTERM drains; Docker's default 10 s would cut batches short.
    assert service["stop_grace_period"] == "60s"


def test_the_worker_scales(services: dict[str, Any]) -> None:
    # `--scale worker=N` refuses a fixed container name and clashes on host ports.
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "replicas" not in worker.get("deploy", {})
