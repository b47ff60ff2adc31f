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
# No sentence-transformers: the like path never encodes text, and every post is
# created with an embedding through bulk_create, which fires no post_save.
REQUIREMENTS = (
    "django-neural-feed==1.1.0",
    "Django>=4.2,<6",
    "psycopg[binary]",
    "pgvector",
    "numpy",
)
# Written after a successful install; a changed requirement list reinstalls.
STAMP = VENV / ".bench-requirements"


def upstream_python() -> Path:
    """The upstream virtualenv's interpreter, installing the venv if it is missing or stale."""
    python = VENV / "bin" / "python"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python
    print(f"installing django-neural-feed 1.1.0 into {VENV}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
        check=True,
        stdout=sys.stderr,
    )
    STAMP.write_text(wanted)
    return python


def measure(database_url: str, config: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Run the upstream measurement against ``database_url`` and return its JSON."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Our paths and settings module must not leak into upstream's interpreter.
        if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")
    }
    env["DNF_BENCH_UPSTREAM_DATABASE_URL"] = database_url
    done = subprocess.run(
        [str(upstream_python()), str(HERE / "measure.py"), json.dumps(config)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
