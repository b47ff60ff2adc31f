"""Load the project's ``.sql`` files by name and render their templates.

SQL lives in the top-level ``sql/`` folder (mapped to ``dnf_core/sql`` inside the
wheel). Templates use ``{name}`` placeholders; identifiers are validated and quoted
before they are substituted, and no caller-supplied value is ever pasted in raw.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

from dnf_core.errors import SqlTemplateError

_HERE = Path(__file__).resolve().parent
# Inside the wheel the files sit next to this module; in a checkout, one level up.
_CANDIDATES = (_HERE / "sql", _HERE.parent / "sql")


def sql_dir() -> Path:
    """The folder holding the SQL files, in a wheel or in a source checkout."""
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise SqlTemplateError(f"SQL folder not found; looked in {', '.join(map(str, _CANDIDATES))}")


@functools.cache
def load_sql(name: str) -> str:
    """Text of ``sql/<name>.sql``; ``name`` may contain a subfolder (``queries/claim``)."""
    path = (sql_dir() / f"{name}.sql").resolve()
    if sql_dir().resolve() not in path.parents:
        raise SqlTemplateError(f"SQL name {name!r} points outside the SQL folder")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SqlTemplateError(f"no SQL file named {name!r} (looked for {path})") from None


def placeholders(name: str) -> set[str]:
    """Names of the ``{placeholders}`` a template expects."""
    return {f for _, f, _, _ in string.Formatter().parse(load_sql(name)) if f}


def render_sql(name: str, **fragments: str) -> str:
    """Fill a template's placeholders with already validated and quoted SQL fragments.

    Every placeholder must be given and every given fragment must be used, so a
    typo in a template or a caller fails loudly instead of producing odd SQL.
    """
    expected = placeholders(name)
    given = set(fragments)
    if expected != given:
        missing = ", ".join(sorted(expected - given)) or "-"
        extra = ", ".join(sorted(given - expected)) or "-"
        raise SqlTemplateError(f"template {name!r}: missing {missing}; unexpected {extra}")
    return load_sql(name).format(**fragments)
