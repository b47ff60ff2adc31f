"""Django REST framework stays optional: only dnf_django.rest imports it.

Each check runs in a fresh interpreter, since this one has imported DRF already.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.docsamples import REPO


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "examples" / "movies")]),
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_web_process_never_imports_drf() -> None:
    result = run(
        "import sys, django; django.setup()\n"
        "import dnf_django.admin, dnf_django.explanations, dnf_django.feeds, dnf_django.pages\n"
        "from catalog.feeds import MovieFeed; MovieFeed.get_spec()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rest_framework'))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_drf_the_module_says_which_extra_to_install() -> None:
    result = run(
        "import sys, django; django.setup()\n"
        "sys.modules['rest_framework'] = None  # as if it were not installed\n"
        "import dnf_django.rest\n"
    )
    assert result.returncode != 0
    assert "pip install 'neural-feed[drf]'" in result.stderr
