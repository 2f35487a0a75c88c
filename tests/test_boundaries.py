"""The architecture's boundaries, checked on the source: only ui/ imports gradio, only the store package imports duckdb."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ftstudio"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules_importing(top_level: str) -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if top_level in imported_modules(p)}


def test_only_ui_imports_gradio():
    importers = modules_importing("gradio")
    assert importers, "the scan found no gradio import at all: it is not looking at the package"
    assert all(name.startswith("ui/") for name in importers), importers


def test_only_store_imports_duckdb():
    importers = modules_importing("duckdb")
    assert importers and all(name.startswith("store/") for name in importers), importers


def test_no_module_imports_the_ui_except_entry_points():
    importers = {p for p in modules_importing("ftstudio") if not p.startswith("ui/")}
    for name in importers:
        source = (PACKAGE / name).read_text()
        if "ftstudio.ui" in source:
            assert name == "cli/serve.py", f"{name} reaches into the UI"
