"""pytest plugin: the ``neural_feed`` fixture for pytest-django tests.

Loaded automatically once neural-feed is installed (a ``pytest11`` entry point); with
plugin autoloading off, add ``-p dnf_django.testing.pytest`` or
``pytest_plugins = ["dnf_django.testing.pytest"]`` to the root conftest.py. Nothing
Django is imported until the fixture is used, so loading it costs projects without
Django nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dnf_django.testing import FeedPipeline


@pytest.fixture
def neural_feed(db: None) -> FeedPipeline:
    """The default database's pipeline, run in-process by ``neural_feed.run()``.

    Requests pytest-django's ``db``; with ``transactional_db`` (or
    ``@pytest.mark.django_db(transaction=True)``) it runs on committed data instead.
    """
    from dnf_django.testing import FeedPipeline

    return FeedPipeline()
