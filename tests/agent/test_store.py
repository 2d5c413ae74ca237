"""The run store's contract, against both backends: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from pydantic import BaseModel

from agent.errors import CheckpointError, ConfigError, RunNotFoundError
from agent.settings import Settings
from agent.state import Usage
from agent.store import Store, open_store
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
StoreFactory = Callable[[], Store]


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens the same store afresh each call, as another process would."""
    env = {"PONDER_HOME": str(tmp_path / "home")}
    if request.param == "sqlite":
        spec = str(tmp_path / "runs.sqlite")
    else:
        spec = request.getfixturevalue("postgres_url")
    return lambda: open_store(spec, env)


def test_runs_index_round_trip(make_store: StoreFactory) -> None:
    store = make_store()
    store.save("r1", "first task", {"model": "demo", "tools": ["corpus_search"]})
    store.save("r2", "second task", {"model": "demo"})
    store.set_status("r1", "done")
    again = make_store()
    first = again.get("r1")
    assert (first.task, first.status, first.options["tools"]) == (
        "first task",
        "done",
        ["corpus_search"],
    )
    assert [r.run_id for r in again.list()] == ["r2", "r1"]
    assert [r.run_id for r in again.list(limit=1)] == ["r2"]
    again.save("r1", "first task", {"model": "demo"})  # a resume marks it running again
    assert again.get("r1").status == "running"
    assert again.get("r1").created_at == first.created_at
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        again.get("nope")


def test_local_dir_is_the_machines_own_folder(make_store: StoreFactory, tmp_path: Path) -> None:
    assert make_store().local_dir in (tmp_path, tmp_path / "home")


async def test_a_paused_run_resumes_from_another_store_object(make_store: StoreFactory) -> None:
    """Checkpoints outlive the checkpointer that wrote them; no finished step runs twice."""
    tool, log = recording_tool()
    script = {"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    config: Any = {"configurable": {"thread_id": "paused"}}
    settings = Settings(approve_plan=True)
    async with make_store().checkpointer() as saver:
        graph = build_research_graph(
            ScriptedChatModel(script=script), [tool], checkpointer=saver, settings=settings
        )
        await graph.ainvoke({"task": "What is a?"}, config)
        assert (await graph.aget_state(config)).interrupts, "the plan did not wait for approval"
    assert log.count() == 0
    model = ScriptedChatModel(script={"Synthesis": [synthesis("s1.1")]})  # no second plan
    async with make_store().checkpointer() as saver:
        graph = build_research_graph(model, [tool], checkpointer=saver, settings=settings)
        await graph.ainvoke(Command(resume={"decision": "approve"}), config)
        state = (await graph.aget_state(config)).values
    assert state["status"] == "done"
    assert log.count("a") == 1
    assert [c.role for c in model.calls] == ["Synthesis"]


class Foreign(BaseModel):
    """A type Ponder never stores."""

    x: int = 0


async def test_checkpoints_revive_only_ponders_types(make_store: StoreFactory) -> None:
    async with make_store().checkpointer() as saver:
        data = saver.serde.dumps_typed({"value": Foreign(x=1)})
        with pytest.raises(CheckpointError, match="Foreign"):
            saver.serde.loads_typed(data)
        assert saver.serde.loads_typed(saver.serde.dumps_typed(Usage(tool_calls=2))) == Usage(
            tool_calls=2
        )


def test_store_spec_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"PONDER_HOME": str(tmp_path), "PONDER_STORE": str(tmp_path / "other.sqlite")}
    open_store(None, env).save("r", "t", {})
    assert (tmp_path / "other.sqlite").exists()
    assert not (tmp_path / "runs.sqlite").exists()
    open_store(str(tmp_path / "given.sqlite"), env).save("r", "t", {})
    assert (tmp_path / "given.sqlite").exists()


@pytest.mark.postgres
def test_unreachable_postgres_is_one_clear_config_error(
    postgres_server: Any, tmp_path: Path
) -> None:
    url = f"postgresql://ponder:secret@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(ConfigError, match="cannot open the Postgres run store") as caught:
        open_store(url, {"PONDER_HOME": str(tmp_path)})
    assert "secret" not in str(caught.value), "the password leaked into the message"


@pytest.mark.postgres
def test_setup_is_safe_when_many_workers_start_at_once(postgres_url: str, tmp_path: Path) -> None:
    """Eight stores opened at the same instant on an empty database all succeed."""
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        start.wait()
        try:
            open_store(postgres_url, {"PONDER_HOME": str(tmp_path)}).save(f"w{i}", "t", {})
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(open_store(postgres_url, {"PONDER_HOME": str(tmp_path)}).list()) == 8


def _owned_by(monkeypatch: pytest.MonkeyPatch, owner: str) -> None:
    """Make this process write (and beat) leases as ``owner``."""
    import agent.run_index

    monkeypatch.setattr(agent.run_index, "this_process", lambda: owner)  # both stores' index


def test_a_run_whose_process_died_reads_as_interrupted(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    store.save("alive", "t", {})
    assert store.get("alive").status == "running"  # this process holds it
    gone = subprocess.Popen(["true"])  # a pid that has exited and been reaped
    gone.wait()
    _owned_by(monkeypatch, f"{socket.gethostname()}:{gone.pid}")
    store.save("killed", "t", {})
    assert {r.run_id: r.status for r in make_store().list()} == {
        "alive": "running",
        "killed": "interrupted",
    }
    store.set_status("killed", "done")  # a finished run is never re-labelled
    assert make_store().get("killed").status == "done"


def test_a_run_on_another_machine_is_interrupted_once_its_lease_lapses(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.lease

    _owned_by(monkeypatch, "another-machine:4242")  # no pid to check: only the heartbeat
    monkeypatch.setattr(agent.lease, "LEASE_S", 0.5)
    store = make_store()
    store.save("remote", "t", {})
    assert store.get("remote").status == "running"
    time.sleep(0.8)
    assert store.get("remote").status == "interrupted"
    store.beat("remote")  # the worker was only slow: its next heartbeat revives the lease
    assert store.get("remote").status == "running"
    _owned_by(monkeypatch, "a-third-machine:1")
    time.sleep(0.8)
    store.beat("remote")  # a process that does not hold the run cannot extend it
    assert store.get("remote").status == "interrupted"
