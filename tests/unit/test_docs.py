"""The documentation against the code: samples run, references list what the code has.

Samples without a database run here (see ``tests/docsamples.py`` for the markers);
those that rank a feed run in ``tests/integration/test_docs_samples.py``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import override_settings

from dnf_django.checks import _freshness_index, check_settings
from dnf_django.conf import DEFAULTS, RULES
from dnf_django.feeds import _SETTING_DEFAULTS, BaseNeuralFeed
from dnf_django.registry import registered_feeds
from tests.docsamples import KINDS, REPO, Sample, database_settings, documents, samples

SAMPLES = samples()
DOCS = REPO / "docs"
# "Rare": raise this only with a reason that no other marker can serve.
MAX_SKIPS = 2


def by_kind(kind: str) -> list[Any]:
    return [pytest.param(s, id=s.id) for s in SAMPLES if s.kind == kind]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in ``text``, outer pipes dropped."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- samples ---------------------------------------------------------------------------


def test_the_docs_have_samples_of_every_kind() -> None:
    assert {s.kind for s in SAMPLES} >= {"run", "settings", "project"}


@pytest.mark.parametrize("sample", [pytest.param(s, id=s.id) for s in SAMPLES])
def test_every_sample_compiles_and_has_a_known_marker(sample: Sample) -> None:
    assert sample.kind in KINDS, f"{sample.id}: unknown marker 'sample: {sample.kind}'"
    sample.compiled()


def test_skips_are_rare_and_say_why() -> None:
    skipped = [s for s in SAMPLES if s.kind == "skip"]
    assert all(s.argument for s in skipped), "a skipped sample must give its reason"
    assert len(skipped) <= MAX_SKIPS, [s.id for s in skipped]


def check_settings_namespace(namespace: dict[str, Any], where: str) -> None:
    """What a settings excerpt defines must be valid Django/dnf settings."""
    for name, value in namespace.items():
        if name == "DATABASES":
            assert all(isinstance(db, dict) for db in value.values()), f"{where}: DATABASES"
    feeds_settings = namespace.get("DJANGO_NEURAL_FEED")
    if feeds_settings is None:
        return
    with override_settings(DJANGO_NEURAL_FEED=feeds_settings):
        problems = check_settings()
    assert not problems, f"{where}: {[str(p) for p in problems]}"


@pytest.mark.parametrize("sample", by_kind("settings"))
def test_settings_samples_pass_the_settings_checks(sample: Sample) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(sample.code, sample.id, "exec"), namespace)
    namespace.pop("__builtins__")
    assert namespace, f"{sample.id} defines no setting"
    check_settings_namespace(namespace, sample.id)


@pytest.fixture
def throwaway_app(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for an app written by a test; forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
                module = sys.modules.pop(name)
                apps.all_models.pop(module.__name__.split(".")[0], None)
        apps.clear_cache()


@pytest.mark.parametrize("sample", by_kind("project"))
def test_project_samples_install_and_their_feeds_compile(
    sample: Sample, throwaway_app: Path
) -> None:
    app = sample.argument
    assert re.fullmatch(r"[a-z_]+", app), f"{sample.id}: 'sample: project APP' needs APP"
    assert app not in settings.INSTALLED_APPS, f"{sample.id}: {app} is a real app"
    namespace: dict[str, Any] = {}
    modules = []
    (throwaway_app / app).mkdir()
    (throwaway_app / app / "__init__.py").write_text("")
    for path, code in sample.sections():
        if path == "settings.py":
            exec(compile(code, f"{sample.id} settings.py", "exec"), namespace)
        else:
            assert path.startswith(f"{app}/"), f"{sample.id}: {path} is outside {app}/"
            (throwaway_app / path).write_text(code)
            modules.append(path.removesuffix(".py").replace("/", "."))
    namespace.pop("__builtins__", None)
    check_settings_namespace(namespace, sample.id)
    feeds_settings = namespace.get("DJANGO_NEURAL_FEED", settings.DJANGO_NEURAL_FEED)

    # Installing the app imports its models, as Django does at start-up.
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, app], DJANGO_NEURAL_FEED=feeds_settings
    ):
        declared = {
            feed
            for module in map(importlib.import_module, modules)
            for feed in vars(module).values()
            if isinstance(feed, type)
            and issubclass(feed, BaseNeuralFeed)
            and feed.__module__ == module.__name__
        }
        if "DJANGO_NEURAL_FEED" in namespace:
            listed = {f for f in registered_feeds() if f.__module__.startswith(f"{app}.")}
            assert listed == declared, f"{sample.id}: FEEDS lists {listed}, declares {declared}"
        for feed in declared:
            spec = feed.get_spec()
            assert not _freshness_index(feed, spec), f"{sample.id}: {feed.__name__} W004"
    assert modules, f"{sample.id}: no file of {app}"


def quickstart_databases(monkeypatch: pytest.MonkeyPatch, url: str | None) -> dict[str, Any]:
    """``DATABASES`` as the quick start's settings.py builds it, ``$DNF_DATABASE_URL`` = url."""
    if url is None:
        monkeypatch.delenv("DNF_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DNF_DATABASE_URL", url)
    sample = database_settings()
    namespace: dict[str, Any] = {}
    exec(compile(sample.code, sample.id, "exec"), namespace)
    databases: dict[str, Any] = namespace["DATABASES"]
    return databases


def entry(**keys: Any) -> dict[str, Any]:
    blank = {"NAME": "", "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "OPTIONS": {}}
    return {"ENGINE": "django.db.backends.postgresql", **blank, **keys}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "postgresql://blog:s%40cret@db.example.com:6432/blog?sslmode=require&connect_timeout=5",
            entry(
                NAME="blog",
                USER="blog",
                PASSWORD="s@cret",
                HOST="db.example.com",
                PORT="6432",
                OPTIONS={"sslmode": "require", "connect_timeout": "5"},
            ),
            id="tcp",
        ),
        pytest.param(
            "postgresql://postgres@/neural_feed?host=/home/you/blog/.dnf/pg",
            entry(NAME="neural_feed", USER="postgres", HOST="/home/you/blog/.dnf/pg"),
            id="embedded-socket",
        ),
        pytest.param(
            "postgresql://postgres@/neural_feed?host=/tmp/dnf/pg&port=5433",
            entry(NAME="neural_feed", USER="postgres", HOST="/tmp/dnf/pg", PORT="5433"),
            id="socket-port",
        ),
        # libpq, and so the worker, connects to the user's database when none is named.
        pytest.param(
            "postgresql://blog@localhost",
            entry(NAME="blog", USER="blog", HOST="localhost"),
            id="no-dbname",
        ),
        pytest.param(
            "host=/run/postgresql dbname=blog user=web",
            entry(NAME="blog", USER="web", HOST="/run/postgresql"),
            id="key-value",
        ),
        pytest.param(
            None,
            entry(NAME="blog", USER="postgres", HOST="localhost", PORT="5432"),
            id="unset",
        ),
    ],
)
def test_the_quickstart_maps_database_urls_to_django_keys(
    monkeypatch: pytest.MonkeyPatch, url: str | None, expected: dict[str, Any]
) -> None:
    assert quickstart_databases(monkeypatch, url) == {"default": expected}


def test_django_database_is_public_and_importable_from_settings() -> None:
    import dnf_django
    from dnf_django.endpoints import django_database

    assert "django_database" in dnf_django.__all__
    assert dnf_django.django_database is django_database


# --- settings reference ----------------------------------------------------------------

SETTINGS_DOC = DOCS / "settings.md"


def documented_settings() -> dict[str, list[str]]:
    """Rows of docs/settings.md's key table: ``KEY`` -> [default, effect, validation]."""
    rows = {}
    for cells in table_rows(SETTINGS_DOC.read_text()):
        spans = code_spans(cells[0])
        if len(spans) == 1 and spans[0].isupper() and len(cells) == 4:
            rows[spans[0]] = cells[1:]
    return rows


def test_settings_reference_lists_exactly_the_known_keys() -> None:
    documented = documented_settings()
    assert sorted(set(DEFAULTS) - set(documented)) == [], "undocumented keys"
    assert sorted(set(documented) - set(DEFAULTS)) == [], "documented keys the code lacks"


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_settings_reference_states_each_default(key: str) -> None:
    default_cell = documented_settings()[key][0]
    spans = code_spans(default_cell)
    assert spans, f"{key}: the default cell holds no `literal`: {default_cell!r}"
    assert ast.literal_eval(spans[0]) == DEFAULTS[key], (
        f"docs/settings.md says {key} defaults to {spans[0]}, the code to {DEFAULTS[key]!r}"
    )


@pytest.mark.parametrize("key", sorted(RULES))
def test_settings_reference_states_each_rule(key: str) -> None:
    validation = documented_settings()[key][2]
    assert RULES[key][1] in validation, f"{key}: validation should say {RULES[key][1]!r}"


def stated_defaults() -> list[tuple[str, str, str]]:
    """Every default a page states next to a key: `KEY` (v), `KEY` setting (v), | `KEY` | v |."""
    keys = "|".join(DEFAULTS)
    patterns = (
        re.compile(rf"`({keys})`(?: setting)? \(([^)]+)\)"),
        re.compile(rf"\| `({keys})` \| ([^|]+) \|"),
    )
    return [
        (page.name, match[1], match[2].strip().strip("`"))
        for page in documents()
        for pattern in patterns
        for match in pattern.finditer(page.read_text())
    ]


def test_every_page_states_the_current_defaults() -> None:
    stated = stated_defaults()
    assert len({key for _, key, _ in stated}) > len(DEFAULTS) // 2, "the patterns found little"
    wrong = []
    for page, key, text in stated:
        try:
            value = ast.literal_eval(text.replace(",", ""))
        except (ValueError, SyntaxError):
            value = text
        if value != DEFAULTS[key]:
            wrong.append(f"{page}: {key} = {text}, the code says {DEFAULTS[key]!r}")
    assert not wrong, wrong


# --- feed class reference --------------------------------------------------------------

FEEDS_DOC = DOCS / "feeds.md"


def feed_attributes() -> list[str]:
    return [
        name
        for name, value in vars(BaseNeuralFeed).items()
        if not name.startswith("_") and not isinstance(value, classmethod)
    ]


def documented_attributes() -> dict[str, list[str]]:
    rows = {}
    for cells in table_rows(FEEDS_DOC.read_text()):
        spans = code_spans(cells[0])
        if len(spans) == 1 and re.fullmatch(r"[a-z_]+", spans[0]):
            rows[spans[0]] = cells[1:]
    return rows


def test_feed_reference_documents_every_attribute() -> None:
    documented = documented_attributes()
    assert sorted(set(feed_attributes()) - set(documented)) == [], "undocumented attributes"
    assert sorted(set(documented) - set(feed_attributes())) == [], "attributes the code lacks"


@pytest.mark.parametrize("attribute", sorted(_SETTING_DEFAULTS))
def test_feed_reference_names_the_setting_behind_each_default(attribute: str) -> None:
    row = " | ".join(documented_attributes()[attribute])
    assert f"`{_SETTING_DEFAULTS[attribute]}`" in row, (
        f"{attribute} defaults to the {_SETTING_DEFAULTS[attribute]} setting"
    )


@pytest.mark.parametrize(
    "method",
    [n for n, v in vars(BaseNeuralFeed).items() if isinstance(v, classmethod) and n[0] != "_"],
)
def test_feed_reference_gives_each_method_its_signature(method: str) -> None:
    signature = inspect.signature(getattr(BaseNeuralFeed, method))
    plain = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    text = FEEDS_DOC.read_text()
    assert f"`{method}{plain}`" in text, f"docs/feeds.md should show `{method}{plain}`"


# --- links -----------------------------------------------------------------------------


def test_the_index_links_every_page_and_the_readme_links_the_index() -> None:
    index = (DOCS / "index.md").read_text()
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"
    assert "(docs/index.md)" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name) for p in documents()])
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links {target}, missing"


# --- the deployment guide's grants -----------------------------------------------------


def test_deployment_guide_grants_are_what_dnf_grants_prints() -> None:
    from catalog.feeds import MovieFeed
    from dnf_core.grants import grant_sql

    roles = {"web": "app_web", "relay": "app_relay", "worker": "app_worker"}
    spec = MovieFeed.get_spec()
    printed = [
        line
        for process, role in roles.items()
        for line in grant_sql(process, role, [spec]).splitlines()
        if line.startswith("GRANT")
    ]
    documented = [
        line
        for line in (DOCS / "deployment.md").read_text().splitlines()
        if line.startswith("GRANT")
    ]
    assert documented == printed
