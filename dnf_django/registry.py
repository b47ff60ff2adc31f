"""The feed classes named in ``DJANGO_NEURAL_FEED["FEEDS"]``."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from dnf_core.errors import ConfigurationError
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
