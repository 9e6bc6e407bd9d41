"""The package layout is the architecture: imports between its parts run one way.

An AST walk over `src/deployworker` builds the graph of imports between its parts
(subpackages and top-level modules) and checks it against the layers written down
in `docs/architecture.md`. A part may import only parts on a lower layer; two parts
on one layer never import each other, so the graph is acyclic by construction.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "deployworker"

# Highest first; the same table as docs/architecture.md.
LAYERS: dict[str, int] = {
    "__main__": 9,
    "cli": 8,
    "app": 7,
    "queue": 6,
    "deploy": 5,
    "intake": 4,
    "rollout": 4,
    "board": 4,
    "local": 5,
    "observe": 3,
    "settings": 2,
    "ledger": 2,
    "aws": 1,
    "errors": 0,
    "outcome": 0,
    "failpoints": 0,
    "__init__": 0,
}


def _part(path: Path) -> str:
    """The part a source file belongs to: its subpackage, or its own module name."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _is_part(name: str) -> bool:
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


def _imported_parts(path: Path) -> set[str]:
    """Every part of deployworker that `path` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "deployworker":
                # `from deployworker import X`: a part when X is one, else the package root.
                names = [
                    f"deployworker.{alias.name if _is_part(alias.name) else '__init__'}"
                    for alias in node.names
                ]
        for name in names:
            parts = name.split(".")
            if parts[0] == "deployworker" and len(parts) > 1:
                found.add(parts[1])
    return found


def import_graph() -> dict[str, set[str]]:
    """part -> the other parts it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        part = _part(path)
        graph[part] |= _imported_parts(path) - {part}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `graph`, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_every_part_has_a_layer() -> None:
    assert set(import_graph()) - set(LAYERS) == set()


def test_imports_run_down_the_layers() -> None:
    wrong = [
        f"{part} (layer {LAYERS[part]}) imports {other} (layer {LAYERS[other]})"
        for part, others in import_graph().items()
        for other in others
        if LAYERS[other] >= LAYERS[part]
    ]
    assert wrong == []


def test_the_part_graph_is_acyclic() -> None:
    assert _cycle(import_graph()) is None


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    # The checks above must be able to fail: a known-bad graph trips both.
    bad = {"deploy": {"queue"}, "queue": {"deploy"}}
    assert _cycle(bad) == ["deploy", "queue", "deploy"]
    assert LAYERS["queue"] >= LAYERS["deploy"]


@pytest.mark.parametrize(
    "package", sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())
)
def test_every_subpackage_says_what_it_is(package: str) -> None:
    doc = ast.get_docstring(ast.parse((SRC / package / "__init__.py").read_text()))
    assert doc is not None
    assert 3 <= len(doc.strip().splitlines()) <= 6


def test_no_module_is_over_250_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 250
    }
    assert long == {}


def test_the_top_level_stays_small() -> None:
    assert len(list(SRC.glob("*.py"))) <= 12
