"""Service URLs for the worker, derived from Django settings (and the reverse for settings.py)."""

from __future__ import annotations

import os
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dnf_core.broker_layout import DEFAULT_REDIS_URL
from dnf_core.errors import ConfigurationError
from dnf_django.conf import feed_setting

# Keys of settings.DATABASES[...]["OPTIONS"] that are Django's, not libpq's.
_DJANGO_ONLY_OPTIONS = frozenset({"isolation_level", "server_side_binding", "pool", "assume_role"})


def django_database(url: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for a libpq URL or ``key=value`` string.

    ``postgresql://user:password@host:port/dbname?param=value`` gives ``USER``,
    ``PASSWORD``, ``HOST``, ``PORT`` and ``NAME``; ``?host=/socket/dir`` (the form
    ``python -m dnf_core.services start`` prints) a Unix socket directory as ``HOST``;
    every other parameter goes to ``OPTIONS``. Safe to call from ``settings.py``.
    """
    params = conninfo_to_dict(url)
    user = params.pop("user", "")
    name = params.pop("dbname", "")
    if not name and "service" not in params:
        # The database libpq, so the worker given the same URL, connects to: the user's
        # name. (A service file names its own database, which NAME would override.)
        name = user or "postgres"
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user,
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
