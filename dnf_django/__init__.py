"""neural-feed's Django app: feed classes, the embedding mixin, profiles, commands.

Names are imported lazily, so ``import dnf_django`` works before Django's app
registry is ready (in settings modules, say).
"""

from __future__ import annotations

from typing import Any

# Every error the public API raises, from the root down (dnf_core.errors defines them).
_ERRORS = (
    "NeuralFeedError",
    "BackfillError",
    "BrokerError",
    "ConfigurationError",
    "EncoderError",
    "EvaluationError",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidCursor",
    "ItemNotFound",
    "ServiceError",
    "SqlTemplateError",
    "UnknownFeedAttribute",
)

__all__ = [
    "BackfillError",
    "BaseNeuralFeed",
    "BrokerError",
    "ConfigurationError",
    "EncoderError",
    "EvaluationError",
    "Explanation",
    "FeedPage",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidCursor",
    "ItemNotFound",
    "NeuralFeedError",
    "NeuralRecommendMixin",
    "PipelineStatus",
    "ServiceError",
    "SqlTemplateError",
    "UnknownFeedAttribute",
    "UserFeedProfile",
    "django_database",
    "pause_capture",
    "pipeline_status",
]

_LOCATIONS = {
    "BaseNeuralFeed": "dnf_django.feeds",
    "Explanation": "dnf_django.explanations",
    "FeedPage": "dnf_django.pages",
    "NeuralRecommendMixin": "dnf_django.mixins",
    "PipelineStatus": "dnf_django.status",
    "pipeline_status": "dnf_django.status",
    "pause_capture": "dnf_django.capture",
    "UserFeedProfile": "dnf_django.models",
    # For settings.py: needs neither settings nor the app registry.
    "django_database": "dnf_django.endpoints",
    # Plain exception classes: importable before Django is set up, like the rest.
    **dict.fromkeys(_ERRORS, "dnf_core.errors"),
}


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'dnf_django' has no attribute {name!r}")
