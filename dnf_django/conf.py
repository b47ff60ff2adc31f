"""``settings.DJANGO_NEURAL_FEED``, read each time it is used so ``override_settings`` works."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from dnf_core.encoders import DEFAULT_ENCODER, DEFAULT_MODEL_NAME
from dnf_core.errors import ConfigurationError

DEFAULTS: dict[str, Any] = {
    "FEEDS": [],
    "MODEL_NAME": DEFAULT_MODEL_NAME,
    "VECTOR_DIMENSION": 384,
    "ENCODER_CLASS": DEFAULT_ENCODER,
    "WEIGHT_SIMILARITY": 0.6,
    "WEIGHT_FRESHNESS": 0.2,
    "WEIGHT_POPULARITY": 0.2,
    "USER_LIKES_LIMIT": 20,
    "DISLIKE_WEIGHT": 0.5,
    "FRESHNESS_HALF_LIFE_HOURS": 72.0,
    "CANDIDATES_SIMILARITY": 200,
    "CANDIDATES_FRESHNESS": 100,
    "CANDIDATES_POPULARITY": 100,
    "HNSW_EF_SEARCH": 100,
    "HNSW_ITERATIVE_SCAN": "relaxed_order",
    # Items one chain of get_page cursors may show; the cursor carries their keys.
    "PAGE_MAX_ITEMS": 1000,
    "REDIS_URL": None,
}


def feed_setting(key: str) -> Any:
    """The value of ``DJANGO_NEURAL_FEED[key]``, else its default."""
    if key not in DEFAULTS:
        raise ConfigurationError(f"unknown DJANGO_NEURAL_FEED key {key!r}")
    user_settings = getattr(settings, "DJANGO_NEURAL_FEED", {}) or {}
    if not isinstance(user_settings, dict):
        raise ConfigurationError("settings.DJANGO_NEURAL_FEED must be a dict")
    return user_settings.get(key, DEFAULTS[key])
