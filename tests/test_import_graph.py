"""The house's one-way imports: the import graph of ftstudio/, imports inside functions included, has no cycle,
and no module imports another module's `_private` name."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ftstudio"


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted name lives in: the longest prefix that is a module."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> tuple[set[str], list[str]]:
    """The ftstudio modules `name` imports (anywhere in its file) and the private names it takes from others."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets, private = set(), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ftstudio"):
                    targets.add(owning_module(alias.name, modules))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if not base.startswith("ftstudio"):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else owning_module(base, modules)
                targets.add(target)
                if alias.name.startswith("_") and not alias.name.startswith("__") and target != name:
                    private.append(f"{name} imports {target}.{alias.name}")
    targets.discard(None)
    targets.discard(name)
    return targets, private


def is_ancestor(a: str, b: str) -> bool:
    return b.startswith(a + ".")


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    modules = module_files()
    graph, private = {}, []
    for name, path in modules.items():
        targets, taken = imports_of(name, path, modules)
        # A package importing its own submodules (to re-export them) is not a layering edge, nor is a submodule
        # importing a sibling through the package: both stay inside one owner.
        graph[name] = {t for t in targets if not is_ancestor(name, t) and not is_ancestor(t, name)}
        private += taken
    return graph, private


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module are the cycles."""
    index, low, on_stack, stack, components, counter = {}, {}, set(), [], [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_package():
    graph, _ = import_graph()
    assert "ftstudio.store" in graph and sum(len(t) for t in graph.values()) > 100, "the walk found no imports"


def test_a_cycle_is_found_when_there_is_one():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph, _ = import_graph()
    assert strongly_connected(graph) == []


def test_no_module_imports_another_modules_private_names():
    _, private = import_graph()
    assert private == []
