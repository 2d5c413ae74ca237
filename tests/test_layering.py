"""The import rules between top-level packages (ARCHITECTURE.md), read from the source.

``agent`` is the lowest package: ``tools`` and ``graphs`` build on it. Only its top
layer, ``agent/cli``, drives the packages above it (it assembles a toolbox and a
graph for a command). Examples use only the package faces.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FACES = {"agent", "agent.models", "agent.testing", "graphs", "tools"}
OURS = ("agent", "graphs", "tools", "bench", "tests")


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module an import statement in `path` names, anywhere in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _reaching(folder: str, above: tuple[str, ...], *, skip: str | None = None) -> list[str]:
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        if skip and path.is_relative_to(REPO / skip):
            continue
        for line, module in imported_modules(path):
            if module.split(".")[0] in above:
                found.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return found


def test_agent_reaches_graphs_and_tools_only_from_its_cli() -> None:
    assert _reaching("agent", ("graphs", "tools", "bench", "tests"), skip="agent/cli") == []


def test_tools_never_import_graphs() -> None:
    assert _reaching("tools", ("graphs", "bench", "tests")) == []


def test_graphs_never_import_bench_or_tests() -> None:
    assert _reaching("graphs", ("bench", "tests")) == []


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_import_only_package_faces(example: Path) -> None:
    past = [
        f"line {line}: {module}"
        for line, module in imported_modules(example)
        if module.split(".")[0] in OURS and module not in FACES
    ]
    assert past == [], f"{example.name} imports past the package faces {sorted(FACES)}"


def test_the_rule_checker_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "node.py"
    bad.write_text("def f():\n    from graphs.research import build_research_graph\n")
    assert list(imported_modules(bad)) == [(2, "graphs.research")]


# Pinned and tested instead: typer (pinned to 0.29.x in pyproject) builds a pydantic
# adapter for the --help flag on every call unless the command group swaps in its private
# pass-through parameter; tests/test_public_api.py::test_help_loads_no_heavy_module keeps it.
PINNED_PRIVATE = {"agent/cli/app.py": {"typer._click.core", "typer._coercion"}}


def test_no_package_imports_a_private_module_of_a_library() -> None:
    """E.g. ``langgraph._internal``: private modules change without notice between releases."""
    private = []
    for folder in ("agent", "tools", "graphs"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for line, module in imported_modules(path):
                parts = module.split(".")
                pinned = PINNED_PRIVATE.get(str(path.relative_to(REPO)), set())
                if parts[0] not in OURS and any(p.startswith("_") for p in parts[1:]):
                    if module in pinned:
                        continue
                    private.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert private == []


def test_bench_never_imports_tests() -> None:
    """What the benchmarks and the tests share lives in bench/ (tests may import bench)."""
    assert _reaching("bench", ("tests",)) == []


NODES = REPO / "agent" / "nodes"
NODE_MODULES = {p.stem for p in NODES.glob("*.py") if not p.stem.startswith("_")}


@pytest.mark.parametrize("node", sorted(NODE_MODULES))
def test_nodes_never_import_each_other(node: str) -> None:
    """What two nodes share lives in a module below both (agent/progress.py, agent/dispatch.py…)."""
    others = {f"agent.nodes.{n}" for n in NODE_MODULES - {node}}
    found = [m for _, m in imported_modules(NODES / f"{node}.py") if m in others]
    assert found == []


def test_only_run_end_writes_status_and_stop_reason() -> None:
    """A node ends a run through agent/run_end.py; no node's update dict names the fields."""
    writers = []
    for path in sorted(NODES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if keys & {"status", "stop_reason"}:
                    writers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert writers == []
