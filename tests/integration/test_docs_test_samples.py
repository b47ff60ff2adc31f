"""The documentation's ``tests`` samples: users' test modules, run as their test runner would.

Their ``blog`` app is the README's; here ``blog.models.Article`` and
``blog.feeds.ArticleFeed`` are the example project's movie model and feed, and the
samples run under the settings excerpt of docs/testing.md (the fast encoder), through
the real triggers and the in-process pipeline. See ``tests/docsamples.py``.
"""

from __future__ import annotations

import inspect
import sys
import types
import unittest
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import SimpleTestCase, override_settings

from catalog.feeds import MovieFeed
from catalog.models import Movie
from dnf_django.testing import FeedPipeline
from tests.docsamples import Sample, docs_testing_settings, samples

pytestmark = pytest.mark.services

# The fixtures a sample's test functions may ask for.
FIXTURES: dict[str, Callable[[], Any]] = {
    "neural_feed": FeedPipeline,
    "django_user_model": get_user_model,
}


class _Rollback(Exception):
    """Ends the transaction a sample's test function ran in, as pytest-django's ``db``."""


@pytest.fixture
def blog_app(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``blog.models`` / ``blog.feeds`` importable, and the testing page's settings."""
    names = {"blog.models": {"Article": Movie}, "blog.feeds": {"ArticleFeed": MovieFeed}}
    monkeypatch.setitem(sys.modules, "blog", types.ModuleType("blog"))
    for module_name, attributes in names.items():
        module = types.ModuleType(module_name)
        vars(module).update(attributes)
        monkeypatch.setitem(sys.modules, module_name, module)
    namespace: dict[str, Any] = {}
    sample = docs_testing_settings()
    exec(compile(sample.code, sample.id, "exec"), namespace)
    settings: dict[str, Any] = namespace["DJANGO_NEURAL_FEED"]
    return settings


@pytest.mark.parametrize(
    "sample", [pytest.param(s, id=s.id) for s in samples() if s.kind == "tests"]
)
def test_test_samples_pass(sample: Sample, blog_app: dict[str, Any], db: None) -> None:
    namespace: dict[str, Any] = {"__name__": "blog.sample_tests"}
    exec(compile(sample.code, sample.id, "exec"), namespace)
    cases = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, SimpleTestCase)
        and value.__module__ == "blog.sample_tests"
    ]
    functions = [
        value
        for name, value in namespace.items()
        if name.startswith("test_") and inspect.isfunction(value)
    ]
    assert cases or functions, f"{sample.id} holds no test"
    # Inside pytest-django's test transaction: a TestCase nests its own in it.
    with override_settings(DJANGO_NEURAL_FEED=blog_app):
        for case in cases:
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
            problems = [text for _, text in result.errors + result.failures]
            assert result.testsRun and not problems, f"{sample.id}: {problems}"
        for function in functions:
            arguments = {name: FIXTURES[name]() for name in inspect.signature(function).parameters}
            with pytest.raises(_Rollback), transaction.atomic():
                function(**arguments)
                raise _Rollback
