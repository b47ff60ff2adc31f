"""``python -m workers.healthcheck FILE``: exit 0 if the worker beat FILE lately, else 1.

A container health check: it reads one file's age, so it costs a Python start and
nothing else, and it judges this container's worker alone.
"""

from __future__ import annotations

import argparse
import sys

from workers.health import HealthFile

DEFAULT_MAX_AGE_S = 30.0


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the probe."""
    parser = argparse.ArgumentParser(
        prog="python -m workers.healthcheck",
        description="Exit 0 if the worker touched FILE within --max-age seconds, else 1.",
    )
    parser.add_argument("file", help="the worker's --health-file")
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_S,
        help=f"seconds without a beat that count as unhealthy (default {DEFAULT_MAX_AGE_S:.0f})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """The probe: 0 healthy, 1 unhealthy (with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    if args.max_age <= 0:
        print(f"healthcheck: --max-age must be positive, got {args.max_age}", file=sys.stderr)
        return 2
    age = HealthFile(args.file).age()
    if age is None:
        print(f"healthcheck: no {args.file}: the worker never reported healthy", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(
            f"healthcheck: last beat {age:.0f} s ago (limit {args.max_age:.0f} s)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
