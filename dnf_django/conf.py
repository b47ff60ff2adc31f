"""``settings.DJANGO_NEURAL_FEED``, read each time it is used so ``override_settings`` works."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from dnf_core.broker_layout import REDIS_URL_SCHEMES, is_redis_url
from dnf_core.encoders import DEFAULT_ENCODER, DEFAULT_MODEL_NAME, encoder_path, load_encoder
from dnf_core.encoders.backends import BACKENDS, DEFAULT_BACKEND
from dnf_core.errors import ConfigurationError
from dnf_core.spec import NUMBER_RULES

DEFAULTS: dict[str, Any] = {
    "FEEDS": [],
    "MODEL_NAME": DEFAULT_MODEL_NAME,
    "VECTOR_DIMENSION": 384,
    "ENCODER_CLASS": DEFAULT_ENCODER,
    # How the default encoder runs its model: "torch", "onnx" (fp32) or "onnx-int8".
    # The default is the fastest within the accuracy bounds (docs/settings.md).
    "ENCODER_BACKEND": DEFAULT_BACKEND,
    # Weights chosen by dnf_evaluate on MovieLens (docs/evaluation.md): with the
    # collaborative signal carrying most of the score, NDCG@10 0.097 and HR@10 0.43,
    # against 0.072 / 0.37 for upstream's 0.6 / 0.2 / 0.2 and 0.067 / 0.29 for
    # popularity.
    "WEIGHT_SIMILARITY": 0.2,
    "WEIGHT_FRESHNESS": 0.1,
    "WEIGHT_POPULARITY": 0.1,
    "WEIGHT_COLLABORATIVE": 0.6,
    # Item vectors learned from co-interactions; 0 turns the collaborative signal off.
    "COLLABORATIVE_DIMENSION": 256,
    # Maximal marginal relevance over the top of the feed: None is off, 1 keeps the
    # score order, lower trades score for variety.
    "DIVERSITY": None,
    # Leave out of the feed the items the user already interacted with. Off, as in
    # django-neural-feed 1.x, whose feeds show them.
    "EXCLUDE_INTERACTED": False,
    "USER_LIKES_LIMIT": 20,
    "DISLIKE_WEIGHT": 0.5,
    "FRESHNESS_HALF_LIFE_HOURS": 72.0,
    "CANDIDATES_SIMILARITY": 100,
    "CANDIDATES_FRESHNESS": 100,
    "CANDIDATES_POPULARITY": 100,
    "CANDIDATES_COLLABORATIVE": 100,
    "HNSW_EF_SEARCH": 300,
    "HNSW_EF_SEARCH_COLLABORATIVE": 200,
    "HNSW_ITERATIVE_SCAN": "relaxed_order",
    # The largest ``limit`` get_feed and get_page take: every limit up to it is
    # answered in full; above it, a ValueError (not a database error).
    "MAX_LIMIT": 1000,
    # Items one chain of get_page cursors may show; the chain's shown keys are kept
    # server-side (dnf_django.models.ShownPage), not in the cursor.
    "PAGE_MAX_ITEMS": 1000,
    # Seconds a chain of get_page cursors lives after its first page: an older cursor
    # raises InvalidCursor, and the chain's stored pages are purged.
    "CURSOR_MAX_AGE": 86400,
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


# Keys of django-neural-feed 1.x that mean nothing here, and what replaces them.
UPSTREAM_KEYS = {
    "CELERY_ENABLED": "embedding always runs in the worker: python manage.py dnf_worker",
    "HNSW": "the HNSW index is always used; tune HNSW_EF_SEARCH and CANDIDATES_SIMILARITY",
    "FRESHNESS_EXPRESSION": "set freshness_field (or freshness_expression) on the feed class",
    "POPULARITY_EXPRESSION": "popularity is counted by the worker; or set "
    "popularity_expression on the feed class",
}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _encoder_class(value: Any) -> bool:
    # The web process checks what the worker will import, so a typo fails `check`
    # rather than every embedding. (The class itself is accepted too, as 1.x did.)
    try:
        load_encoder(value if isinstance(value, str) else encoder_path(value))
    except (ConfigurationError, AttributeError):
        return False
    return True


# What each key must hold, as (test, description). Keys a feed compiles are checked
# there too, with the feed's name and attribute in the message; here they are named
# by key, so a bad default is reported even while no feed uses it. Numeric rules are
# dnf_core.spec's, the ones feeds compile with.
RULES: dict[str, tuple[Any, str]] = {
    "FRESHNESS_HALF_LIFE_HOURS": NUMBER_RULES["freshness_half_life_hours"],
    "DISLIKE_WEIGHT": NUMBER_RULES["dislike_weight"],
    "WEIGHT_SIMILARITY": NUMBER_RULES["weight"],
    "WEIGHT_FRESHNESS": NUMBER_RULES["weight"],
    "WEIGHT_POPULARITY": NUMBER_RULES["weight"],
    "WEIGHT_COLLABORATIVE": NUMBER_RULES["weight"],
    "ENCODER_CLASS": (
        _encoder_class,
        "the dotted path of an importable BaseVectorEncoder subclass",
    ),
    "ENCODER_BACKEND": (
        lambda v: v in BACKENDS,
        "one of " + ", ".join(repr(b) for b in BACKENDS),
    ),
    "COLLABORATIVE_DIMENSION": (
        lambda v: _non_negative_int(v) and v <= 1024,
        "an integer in 0..1024",
    ),
    "DIVERSITY": NUMBER_RULES["diversity"],
    # A bool, not any truthy value: the string "False" must not turn it on.
    "EXCLUDE_INTERACTED": (lambda v: isinstance(v, bool), "True or False"),
    "CANDIDATES_SIMILARITY": (_non_negative_int, "an integer >= 0"),
    "CANDIDATES_FRESHNESS": (_non_negative_int, "an integer >= 0"),
    "CANDIDATES_POPULARITY": (_non_negative_int, "an integer >= 0"),
    "CANDIDATES_COLLABORATIVE": (_non_negative_int, "an integer >= 0"),
    "HNSW_EF_SEARCH": (lambda v: _positive_int(v) and v <= 1000, "an integer in 1..1000"),
    "HNSW_EF_SEARCH_COLLABORATIVE": (
        lambda v: _positive_int(v) and v <= 1000,
        "an integer in 1..1000",
    ),
    "HNSW_ITERATIVE_SCAN": (
        lambda v: v in ("off", "strict_order", "relaxed_order"),
        "'off', 'strict_order' or 'relaxed_order'",
    ),
    "PAGE_MAX_ITEMS": (_positive_int, "a positive integer"),
    # pgvector's search beam tops out at 1,000, and a candidate pool grows with the
    # limit: past 10,000 a request would be a table scan in all but name.
    "MAX_LIMIT": (lambda v: _positive_int(v) and v <= 10000, "an integer in 1..10000"),
    "CURSOR_MAX_AGE": (_positive_int, "a positive integer (seconds)"),
    "REDIS_URL": (
        lambda v: v is None or is_redis_url(v),
        f"None or a URL starting with {', '.join(REDIS_URL_SCHEMES)}",
    ),
}
