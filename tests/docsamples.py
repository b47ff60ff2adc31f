"""The documentation's Python samples: found, classified by their marker, split into files.

Every fenced ```python block of README.md and docs/*.md is a sample. An HTML comment on
the line before the fence says how the tests run it:

- none: a snippet of a view or a shell. ``tests/integration/test_docs_samples.py``
  executes it against the test database, in a namespace that holds ``request`` (a
  GET request of ``user``, who has a profile), ``user``, ``seen_ids``, and the README's
  ``Article`` / ``ArticleFeed`` names bound to the example project's movie model and
  feed, with data the feed can rank. A snippet may ``await`` at top level, as the
  body of an async view does (``request.auser()`` is there): it then runs in an
  event loop;
- ``<!-- sample: settings -->``: a settings.py excerpt. Executed; its
  ``DJANGO_NEURAL_FEED`` must pass dnf_django's settings checks;
- ``<!-- sample: project APP -->``: files of a user's project, each section headed by
  a ``# path.py`` comment (a block with no header is ``APP/models.py``). ``APP/*``
  files are written into a throwaway app that is installed for the test, so its
  models and feeds are imported for real; every feed must compile to a spec and pass
  the feed checks; a ``# settings.py`` section is checked as above, and its ``FEEDS``
  must name the app's feeds;
- ``<!-- sample: tests -->``: a user's test module for the README's ``blog`` app
  (``blog.models.Article`` and ``blog.feeds.ArticleFeed`` stand for the example
  project's movie model and feed). ``tests/integration/test_docs_test_samples.py`` runs
  its ``TestCase`` classes and its ``test_*`` functions (fixtures ``neural_feed`` and
  ``django_user_model``) under the settings sample of docs/testing.md; every test must
  pass;
- ``<!-- sample: skip REASON -->``: only compiled. The reason is required, and skips
  must stay rare.

Every sample, whatever its marker, must compile.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

REPO = Path(__file__).resolve().parents[1]
KINDS = ("run", "settings", "project", "tests", "skip")
_MARKER = re.compile(r"^<!--\s*sample:\s*(?P<kind>\S+)\s*(?P<argument>.*?)\s*-->$")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
_HEADER = re.compile(r"^# (?P<path>[\w./]+\.py)$")


def documents() -> list[Path]:
    """The files whose samples are tested: the README and every page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Sample:
    """One fenced Python block and the marker in front of it."""

    path: Path
    line: int
    kind: str
    argument: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    def compiled(self) -> CodeType:
        """The code as the tests run it: top-level ``await`` allowed (a snippet of an
        async view); such code has ``CO_COROUTINE`` set, and evaluating it gives the
        coroutine to await."""
        return compile(self.code, self.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

    def sections(self) -> list[tuple[str, str]]:
        """``(path, code)`` per ``# path.py`` header; a block without one is APP/models.py."""
        parts: list[tuple[str, list[str]]] = []
        for line in self.code.splitlines():
            header = _HEADER.match(line)
            if header:
                parts.append((header["path"], []))
            elif parts:
                parts[-1][1].append(line)
            elif line.strip():
                parts.append((f"{self.argument}/models.py", [line]))
        return [(path, "\n".join(lines) + "\n") for path, lines in parts]


def samples(paths: list[Path] | None = None) -> list[Sample]:
    """Every Python sample of ``paths`` (default: :func:`documents`), in order."""
    found: list[Sample] = []
    for path in paths or documents():
        lines = path.read_text().splitlines()
        index = 0
        while index < len(lines):
            fence = _FENCE.match(lines[index])
            if not fence or not fence["lang"]:
                index += 1
                continue
            start = index
            end = next(
                (i for i in range(start + 1, len(lines)) if lines[i].strip() == "```"),
                len(lines),
            )
            if fence["lang"] == "python":
                kind, argument = _marker(lines, start)
                # Fences inside list items are indented; their code is too.
                body = textwrap.dedent("\n".join(lines[start + 1 : end]))
                found.append(Sample(path, start + 1, kind, argument, body + "\n"))
            index = end + 1
    return found


def _marker(lines: list[str], fence: int) -> tuple[str, str]:
    """The marker on the last non-blank line before the fence, else ("run", "")."""
    for line in reversed(lines[:fence]):
        if line.strip():
            match = _MARKER.match(line.strip())
            return (match["kind"], match["argument"]) if match else ("run", "")
    return "run", ""


def docs_testing_settings() -> Sample:
    """The testing page's settings excerpt: what the ``tests`` samples run under."""
    (sample,) = [s for s in samples([REPO / "docs" / "testing.md"]) if s.kind == "settings"]
    return sample


def database_settings() -> Sample:
    """The quick start's settings.py excerpt that builds ``DATABASES`` from a URL."""
    (sample,) = [
        s
        for s in samples([REPO / "docs" / "quickstart.md"])
        if s.kind == "settings" and "django_database(" in s.code
    ]
    return sample
