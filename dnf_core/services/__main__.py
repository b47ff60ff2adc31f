"""``python -m dnf_core.services start|stop|status|env``: exports on stdout, chatter on stderr."""

import argparse
import sys
from collections.abc import Sequence

from dnf_core.errors import ServiceError
from dnf_core.services import ServiceUrls, service_status, start_services, stop_services


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m dnf_core.services", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    command = parser.parse_args(argv).command
    try:
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
