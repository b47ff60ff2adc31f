"""A logging handler that counts upstream's errors, which it logs and swallows."""

from __future__ import annotations

import logging


class ErrorCount(logging.Handler):
    """Counts ERROR records and keeps the first, so a swallowed failure still shows."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = record.getMessage()[:300]
