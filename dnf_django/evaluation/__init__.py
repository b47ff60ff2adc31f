"""Offline evaluation of a feed through the real pipeline, in a scratch database.

``evaluate_feed`` is what ``manage.py dnf_evaluate`` runs; the split, metrics and
baselines it uses live in ``dnf_core.evaluation``. Names are imported lazily, as in
``dnf_django``, so importing this package needs no configured Django.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluationReport", "evaluate_feed", "resolve_feed"]

_LOCATIONS = {
    "EvaluationReport": "dnf_core.evaluation.report",
    "evaluate_feed": "dnf_django.evaluation.runner",
    "resolve_feed": "dnf_django.evaluation.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'dnf_django.evaluation' has no attribute {name!r}")
