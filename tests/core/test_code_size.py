"""The size limits of the house style, on core and every domain app: no function over 50 lines,
no module over 400 (migrations excepted). A long function is split into named steps."""

import ast
from pathlib import Path

from django.conf import settings

PACKAGES = ("core", "royalties", "ingestion", "streams", "webhooks", "analytics")
MAX_FUNCTION_LINES = 50
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    root = Path(settings.BASE_DIR)
    return sorted(
        path
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_module_is_over_the_limit():
    long = {
        str(path): lines
        for path in _modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_the_limit():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None  # ast.parse sets it on every node
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path}:{node.name}"] = lines
    assert long == {}


def test_the_walk_sees_the_code():
    names = {path.name for path in _modules()}
    assert {"services.py", "selectors.py", "batching.py", "ratelimit.py"} <= names
