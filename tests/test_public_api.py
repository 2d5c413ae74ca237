"""The public surface is what the __init__ files say, and every name resolves."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

LAZY_FACES = ("agent", "agent.models", "graphs", "tools")


def _stub_names(package: str) -> list[str]:
    """The names a package's ``__init__.pyi`` re-exports: its one table of public names."""
    stub = REPO.joinpath(*package.split("."), "__init__.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    imported = [a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names]  # fmt: skip
    declared = [n.target.id for n in tree.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]  # fmt: skip
    return imported + declared


@pytest.mark.parametrize("package", LAZY_FACES)
def test_exported_members_are_the_stub_table_and_resolve(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(_stub_names(package))
    assert sorted(n for n in dir(module) if not n.startswith("_")) == sorted(
        n for n in module.__all__ if not n.startswith("_")
    )
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_testing_module_exports_what_it_defines() -> None:
    """As httpx's test: every public name agent.testing defines or re-exports is in __all__."""
    import agent.testing as testing

    homes = {"agent.testing", "agent._testing_replies"}
    defined = [
        name
        for name, obj in vars(testing).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) in homes
    ]
    assert sorted(testing.__all__) == sorted(defined)


def test_the_version_comes_from_the_package_metadata() -> None:
    import agent

    assert agent.__version__ == importlib.metadata.version("ponder")


def test_cli_import_stays_light() -> None:
    """`ponder --help` must not pull in LangGraph, LangChain or the model runtimes."""
    code = (
        "import sys, agent.cli.app; "
        "heavy = [m for m in ('langgraph', 'langchain_core', 'llama_cpp', 'playwright') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_graph_loads_no_model_runtime_until_a_model_runs() -> None:
    """Building a graph for a hosted model must not load llama.cpp's runtime or numpy
    (about 12 MB of every run's memory, found by the benchmark's RSS column)."""
    code = (
        "import sys, graphs.research; "
        "print(','.join(m for m in ('llama_cpp', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


HEAVY_FOR_HELP = (
    "langgraph",
    "langchain_core",
    "llama_cpp",
    "playwright",
    "pydantic",
    "rich",
    "mcp",
    "ray",
    "psycopg",
    "asyncio",
    "httpx",
    "agent.store",
    "agent.cli.session",
)

_HELP_THEN_MODULES = """
import sys
from agent.cli.app import main
heavy = sys.argv[1].split(",")
sys.argv = ["ponder", *sys.argv[2:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in heavy if m in sys.modules)
sys.stderr.write("LOADED=" + ",".join(loaded) + "\\n")
sys.exit(code)
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["batch", "--help"], ["mcp", "--help"], []]
)
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    """Printing help (rendered by typer) pulls in neither pydantic nor rich nor any backend:
    these imports are what made `ponder --help` slow."""
    out = subprocess.run(
        [sys.executable, "-c", _HELP_THEN_MODULES, ",".join(HEAVY_FOR_HELP), *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert "Usage: ponder" in out.stdout + out.stderr
    assert out.returncode in (0, 2)  # no arguments: help, and the usage-error code
    loaded = out.stderr.rsplit("LOADED=", 1)[1].strip()
    assert loaded == ""


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line.startswith(".ci/setup")]
    assert len(commands) == 2, "the README must open with the two commands"
    test_command = commands[1].removeprefix(".ci/setup && ").strip()
    assert ".ci/setup" in ci and test_command in ci.splitlines()
