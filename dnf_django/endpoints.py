"""Service URLs for the worker, derived from Django settings (and the reverse for settings.py)."""

from __future__ import annotations

import os
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dnf_core.errors import ConfigurationError
from dnf_django.conf import feed_setting
from workers.config import DEFAULT_REDIS_URL

# Keys of settings.DATABASES[...]["OPTIONS"] that are Django's, not libpq's.
_DJANGO_ONLY_OPTIONS = frozenset({"isolation_level", "server_side_binding", "pool", "assume_role"})


def django_database(url: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for a Postgres URL (socket-directory hosts included)."""
    params = conninfo_to_dict(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.pop("dbname", "postgres"),
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": params.pop("port", ""),
        "OPTIONS": {k: v for k, v in params.items() if v is not None},
    }


def database_url(alias: str = "default") -> str:
    """A libpq connection string for ``DATABASES[alias]``."""
    from django.conf import settings

    try:
        db = settings.DATABASES[alias]
    except KeyError:
        raise ConfigurationError(f"no database {alias!r} in settings.DATABASES") from None
    params: dict[str, Any] = {
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": db.get("PORT"),
    }
    for key, value in (db.get("OPTIONS") or {}).items():
        if key not in _DJANGO_ONLY_OPTIONS and isinstance(value, str | int):
            params[key] = value
    return make_conninfo(**{k: str(v) for k, v in params.items() if v not in (None, "")})


def redis_url() -> str:
    """``DJANGO_NEURAL_FEED["REDIS_URL"]``, else ``$DNF_REDIS_URL``, else the local default."""
    url: str | None = feed_setting("REDIS_URL")
    return url or os.environ.get("DNF_REDIS_URL") or DEFAULT_REDIS_URL
