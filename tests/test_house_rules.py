"""The house's size and ownership rules, checked on the source: modules short enough to read in one sitting,
functions short enough to follow, and the run folder's file names known to one module only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ftstudio"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 120


def house_modules() -> list[Path]:
    """Every module but the benchmarks, which hold long side-by-side scripts on purpose."""
    return [p for p in PACKAGE.rglob("*.py") if "bench" not in p.relative_to(PACKAGE).parts]


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in house_modules() if (n := len(p.read_text().splitlines()))
            > MAX_MODULE_LINES}
    assert len(house_modules()) > 50 and long == {}


def test_no_function_is_over_120_lines():
    long = {}
    for path in house_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert long == {}


def test_the_run_folders_names_live_in_one_module():
    for name in ("adapter_config.json", "run.yaml"):
        owners = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if name in p.read_text()}
        assert owners == {"run_folder.py"}, (name, owners)
    run_names = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if re.search(r'f"run-\{', p.read_text())}
    assert len(run_names) <= 1, run_names
