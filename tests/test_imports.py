"""The modules of `ecc` import each other without a circle, lazy (function-level) imports included:
a circle hidden behind an import inside a function (as `ecc.sim_noise` once had with `ecc.simulate`)
breaks as soon as someone moves that import to the top."""

from __future__ import annotations

import ast
from pathlib import Path

import ecc

PACKAGE = Path(ecc.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every `ecc.*` module the file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ecc":  # from ecc import a, b: a and b are modules
                found |= {f"ecc.{alias.name}" for alias in node.names}
            elif node.module.startswith("ecc."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("ecc.")}
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = _imports(path)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, …, a], or None (depth-first search with three colours)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_simulator_modules_are_layered():
    graph = import_graph()
    assert "ecc.simulate" not in graph["ecc.sim_noise"]
    assert {"ecc.simulate", "ecc.sim_noise"}.isdisjoint(graph["ecc.sim_wire"] | graph["ecc.sim_model"])


def test_no_import_circle_in_ecc():
    assert find_cycle(import_graph()) is None
