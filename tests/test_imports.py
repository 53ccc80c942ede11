"""The modules of `ecc` import each other without a circle, lazy (function-level) imports included:
a circle hidden behind an import inside a function (as `ecc.sim.sim_noise` once had with `ecc.sim.simulate`)
breaks as soon as someone moves that import to the top."""

from __future__ import annotations

import ast
from pathlib import Path

import ecc

PACKAGE = Path(ecc.__file__).parent


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every `ecc.*` module the file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ecc" or node.module.startswith("ecc."):
                # from ecc.live import live_store: the module; from ecc.config import Settings: ecc.config
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    found.add(dotted if _is_module(dotted) else node.module)
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
    assert "ecc.sim.simulate" not in graph["ecc.sim.sim_noise"]
    below = graph["ecc.sim.sim_wire"] | graph["ecc.sim.sim_model"]
    assert {"ecc.sim.simulate", "ecc.sim.sim_noise"}.isdisjoint(below)


def test_no_import_circle_in_ecc():
    assert find_cycle(import_graph()) is None


# Lower layers never reach up: the contract knows no store, the stores and the simulator know no web side.
# The live store sits above ClickHouse (it is rebuilt from it), never the other way round.
LAYERS = {
    "ecc.contract": {"ecc.sim", "ecc.live", "ecc.olap", "ecc.transport", "ecc.web", "ecc.alerts", "ecc.auth"},
    "ecc.sim": {"ecc.live", "ecc.olap", "ecc.web", "ecc.alerts", "ecc.auth"},
    "ecc.transport": {"ecc.live", "ecc.olap", "ecc.web", "ecc.alerts", "ecc.auth"},
    "ecc.olap": {"ecc.live", "ecc.web", "ecc.alerts", "ecc.auth"},
    "ecc.live": {"ecc.web", "ecc.alerts", "ecc.auth"},
}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} -> {dep}"
                  for module, deps in graph.items()
                  for layer, forbidden in LAYERS.items() if _within(module, layer)
                  for dep in deps if any(_within(dep, f) for f in forbidden))


def test_upward_imports_finds_one():
    graph = {"ecc.contract.events": {"ecc.web.api", "ecc.timeutil"}, "ecc.web.api": {"ecc.live"}}
    assert upward_imports(graph) == ["ecc.contract.events -> ecc.web.api"]


def test_layers_import_downwards_only():
    assert upward_imports(import_graph()) == []
