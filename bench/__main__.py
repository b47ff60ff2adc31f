"""Run benchmarks by name and write ``bench/results/<name>.json``."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Benchmarks in the order `make bench` runs them.
BENCHMARKS = (
    "triggers",
    "ingest",
    "feed",
    "backfill",
    "relay",
    "latency",
    "status",
    "quality",
    "accuracy",
)
# Run only when named: offline studies rather than speed measurements.
ON_DEMAND = ("quality_study",)


def _meta() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: {' '.join(BENCHMARKS)})"
    )
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS) - set(ON_DEMAND))
    if unknown:
        known = ", ".join(BENCHMARKS + ON_DEMAND)
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {known}")
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        print(f"== bench {name}", file=sys.stderr, flush=True)
        results = importlib.import_module(f"bench.{name}").run()
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps({**results, "meta": _meta()}, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
