"""Checkpoints are data: patched checkpoint-sqlite, strict msgpack, tampering refused, no code."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent.errors import CheckpointError
from agent.store import RunStore
from bench.cli_runner import REPO
from tests.reliability import checkpoint_tamper as ct

BUILT: list[str] = []


class Foreign(BaseModel):
    """A type Ponder never stores; building it leaves a mark."""

    x: int = 0

    def model_post_init(self, context: object) -> None:
        BUILT.append("built")


def test_checkpoint_sqlite_has_the_sql_injection_fixes() -> None:
    installed = tuple(int(p) for p in version("langgraph-checkpoint-sqlite").split(".")[:3])
    assert installed >= (3, 0, 1), installed


async def test_the_store_refuses_foreign_types_without_the_strict_env_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGGRAPH_STRICT_MSGPACK", raising=False)
    async with RunStore(tmp_path / "runs.sqlite").checkpointer() as saver:
        data = saver.serde.dumps_typed({"value": Foreign(x=1)})
        BUILT.clear()
        with pytest.raises(CheckpointError, match="Foreign"):
            saver.serde.loads_typed(data)
        assert BUILT == []
        # Ponder's own types still load, as the typed objects.
        from agent.state import Usage

        assert saver.serde.loads_typed(saver.serde.dumps_typed(Usage(tool_calls=2))) == Usage(
            tool_calls=2
        )


_STRICT_ENV_SCRIPT = """
from langgraph.checkpoint.memory import InMemorySaver
from agent.state import StepRecord
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis

tool, _ = recording_tool()
model = ScriptedChatModel(script={"Planning": [planning(step("s1", "a"))],
                                  "Synthesis": [synthesis("s1.1")]})
graph = build_research_graph(model, [tool], checkpointer=InMemorySaver())
config = {"configurable": {"thread_id": "t"}}
graph.invoke({"task": "facts about a?"}, config)
steps = graph.get_state(config).values["steps"]
assert isinstance(steps["s1"], StepRecord), type(steps["s1"])
print("typed")
"""


def test_langgraph_strict_msgpack_mode_keeps_ponder_graphs_working() -> None:
    """With LANGGRAPH_STRICT_MSGPACK=true a plain saver still revives Ponder's state types."""
    done = subprocess.run(
        [sys.executable, "-c", _STRICT_ENV_SCRIPT],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
        env={**__import__("os").environ, "LANGGRAPH_STRICT_MSGPACK": "true"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "typed" in done.stdout
    assert "Blocked deserialization" not in done.stderr


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("clean")
    ct.make_store(home)
    return home


def test_the_untampered_copy_loads(clean_store: Path, tmp_path: Path) -> None:
    """The control: the rewrite machinery itself leaves a loadable store."""
    outcome = ct.run_tamper(ct.Tamper("none", lambda db, canary: None), clean_store, tmp_path)
    assert not outcome.refused and not outcome.ran_code
    assert all("exit 0" in d for d in outcome.details), outcome.details


@pytest.mark.parametrize("tamper", ct.TAMPERS, ids=lambda t: t.name)
def test_tampered_checkpoint_is_refused_and_runs_nothing(
    tamper: ct.Tamper, clean_store: Path, tmp_path: Path
) -> None:
    outcome = ct.run_tamper(tamper, clean_store, tmp_path)
    assert not outcome.ran_code, outcome.problems
    assert outcome.refused, (outcome.problems, outcome.details)
