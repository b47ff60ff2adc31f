"""What the benchmarks need to run each encoder backend (ENCODER_BACKEND) side by side."""

from __future__ import annotations

import json
from typing import Any

import psutil
import psycopg

from bench.meters import Group
from dnf_core.encoders import SentenceTransformerEncoder
from dnf_core.encoders.backends import BACKENDS, backend_encoder
from dnf_core.encoders.base import BaseVectorEncoder

ST_PATH = "dnf_core.encoders.SentenceTransformerEncoder"

__all__ = ["BACKENDS", "encoder_class", "postgres_of", "use_backend"]


def encoder_class(backend: str) -> type[BaseVectorEncoder]:
    """The class a worker runs the example feed's model with on ``backend``."""
    return backend_encoder(SentenceTransformerEncoder, ST_PATH, backend)


def use_backend(database_url: str, backend: str) -> None:
    """Install every feed of the database as declaring ``backend``, as a migration
    compiled with that ENCODER_BACKEND would, with nothing embedded yet (so the first
    embedding records it). Workers started afterwards embed with it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for feed_id, spec in conn.execute("SELECT feed_id, spec FROM dnf_feed").fetchall():
            data = json.loads(spec) if isinstance(spec, str) else dict(spec)
            data["encoder_backend"] = backend
            conn.execute(
                "UPDATE dnf_feed SET spec = %s::jsonb WHERE feed_id = %s",
                [json.dumps(data), feed_id],
            )
        conn.execute("DELETE FROM dnf_embedding_model")


def postgres_of(database_url: str) -> Group:
    """The processes of the Postgres server behind ``database_url`` (its postmaster and
    every child), not those of other servers on the machine."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # While the connection lives: its backend process is a child of the postmaster.
        postmaster = psutil.Process(int(row[0])).parent()
    assert postmaster is not None

    def group() -> list[psutil.Process]:
        return [postmaster, *postmaster.children(recursive=True)]

    return group


def per_item_ms(cpu: dict[str, Any], n: int) -> dict[str, float]:
    """CPU milliseconds per item of each party of a ``cpu_meter`` report."""
    parties = {k[: -len("_cpu_s")]: v for k, v in cpu.items() if k.endswith("_cpu_s")}
    parties.pop("machine_busy", None)
    return {name: round(1000 * seconds / n, 3) for name, seconds in parties.items()}
