"""A liveness file for container health checks: the worker touches it, a probe reads its age.

The worker touches the file once a second while it is healthy (its relay made
progress lately, its broker answers, its actor processes are alive), so the probe
(:mod:`workers.healthcheck`) needs no database, no broker and no Django: it answers
for this container alone, however many replicas run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class HealthFile:
    """The file a healthy worker keeps fresh."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def beat(self) -> None:
        """Mark the process healthy now."""
        self.path.touch()

    def clear(self) -> None:
        """Remove the mark, so a stopping process is not reported healthy."""
        self.path.unlink(missing_ok=True)

    def age(self) -> float | None:
        """Seconds since the last beat, or None if the process never beat."""
        try:
            modified = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        return max(time.time() - modified, 0.0)
