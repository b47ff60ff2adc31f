"""The feed classes named in ``DJANGO_NEURAL_FEED["FEEDS"]``, and the specs installed."""

from __future__ import annotations

import json
from typing import Any

from django.db import connections
from django.utils.module_loading import import_string

from dnf_core.errors import ConfigurationError
from dnf_core.spec import FeedSpec
from dnf_core.sqlfiles import load_sql
from dnf_django.conf import feed_setting


def registered_feeds() -> list[Any]:
    """Import every feed class listed in settings, failing loudly on a bad path."""
    from dnf_django.feeds import BaseNeuralFeed

    feeds = []
    for path in feed_setting("FEEDS"):
        try:
            feed = import_string(path)
        except ImportError as exc:
            raise ConfigurationError(
                f"DJANGO_NEURAL_FEED['FEEDS']: cannot import {path!r}: {exc}"
            ) from exc
        if not (isinstance(feed, type) and issubclass(feed, BaseNeuralFeed)):
            raise ConfigurationError(
                f"DJANGO_NEURAL_FEED['FEEDS']: {path!r} is not a BaseNeuralFeed"
            )
        feeds.append(feed)
    return feeds


def installed_specs(using: str = "default") -> dict[str, FeedSpec]:
    """The specs in the database's feed registry: what the triggers and workers act on."""
    with connections[using].cursor() as cur:
        cur.execute(load_sql("queries/registry_specs"))
        rows = cur.fetchall()
    return {
        feed_id: FeedSpec.from_dict(json.loads(spec) if isinstance(spec, str) else spec)
        for feed_id, spec in rows
    }
