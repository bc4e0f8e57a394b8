"""A web process loads what its first requests would otherwise pay for before it serves any
(core.warmup, called by config.wsgi)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
from django.core.validators import URLValidator
from django.urls import get_resolver
from django.utils.functional import empty
import gc
resolver = get_resolver()
print(URLValidator.regex._wrapped is not empty, resolver._populated, gc.get_freeze_count() > 0)
import config.wsgi
print(URLValidator.regex._wrapped is not empty, resolver._populated, gc.get_freeze_count() > 0)
"""


def test_loading_the_wsgi_application_warms_the_process():
    """The URLconf loaded, the URL validator's expression compiled, what is loaded frozen out
    of the garbage collector's full collections."""
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + _PROBE],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False False False", "True True True"]
