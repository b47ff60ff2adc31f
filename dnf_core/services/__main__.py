"""``python -m dnf_core.services start|stop|status|env|run -- CMD``.

``start`` and ``env`` print shell exports on stdout (chatter goes to stderr); ``run``
runs a command with the services up and stops afterwards what it started.
"""

import argparse
import sys
from collections.abc import Sequence

from dnf_core.errors import ServiceError
from dnf_core.services import (
    ServiceUrls,
    run_with_services,
    service_status,
    start_services,
    stop_services,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m dnf_core.services", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "env", "run"])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="with run: the command to run")
    parsed = parser.parse_args(argv)
    command, args = parsed.command, parsed.args
    if args[:1] == ["--"]:
        args = args[1:]
    if (command == "run") != bool(args):
        parser.error("run takes a command (run -- CMD ...); the others take none")
    try:
        if command == "run":
            return run_with_services(args)
        if command == "start":
            print(start_services().exports())
        elif command == "stop":
            stop_services()
        elif command == "status":
            for service in service_status():
                print(f"{service.name:<9} {service.state:<8} {service.url or '-'}")
        else:
            urls = {s.name: s.url for s in service_status()}
            if urls["postgres"] is None or urls["redis"] is None:
                down = ", ".join(name for name, url in urls.items() if url is None)
                print(
                    f"error: not running: {down} (run: python -m dnf_core.services start)",
                    file=sys.stderr,
                )
                return 1
            print(ServiceUrls(urls["postgres"], urls["redis"]).exports())
    except ServiceError as exc:
        print("error: " + str(exc).replace("\n", " | "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
