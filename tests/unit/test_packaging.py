"""The built wheel carries every SQL file, where the loader looks for it, and the templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_sql_folder_inside_dnf_core(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("neural_feed-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sql_files = {
        f"dnf_core/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")
    }
    assert sql_files and sql_files <= names
    assert "dnf_django/migrations/0001_initial.py" in names
    templates = {
        str(p.relative_to(ROOT)) for p in (ROOT / "dnf_django" / "templates").rglob("*.html")
    }
    assert templates and templates <= names
    assert "workers/cli.py" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)
