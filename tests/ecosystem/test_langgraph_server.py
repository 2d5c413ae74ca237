"""Ponder's graphs served by ``langgraph dev`` and driven with ``langgraph_sdk``, as a user would.

The model is chosen through the run's context, not code: a ``script:`` model
file (scripted replies, real tools over ``examples/corpus``), so every answer
is exact. The server is a real subprocess on 127.0.0.1 with its own
checkpointer; events cross it as Ponder's typed events in the custom stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from agent.events import parse_event
from tests.conftest import planning, step
from tests.ecosystem.langgraph_server import langgraph_dev

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"
CORPUS_FILES = {p.name for p in CORPUS.iterdir()}
TASK = "How does asyncio.gather treat exceptions, and what does a TaskGroup do instead?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with langgraph_dev(tmp_path_factory.mktemp("langgraph-dev")) as url:
        yield url


def _script(path: Path, script: dict[str, Any]) -> str:
    path.write_text(json.dumps({"script": script}), encoding="utf-8")
    return f"script:{path}"


# Claims the top corpus passage of each query below really states, so the citation check
# keeps them ("TaskGroup cancels remaining tasks" finds the KeyboardInterrupt paragraph).
CLAIMS = {
    "gather": "If the gather() call is cancelled, the awaitables it waits for are cancelled too.",
    "taskgroup": "The group cancels the other tasks and waits for them.",
    "timeout": "When the delay expires, the task is cancelled.",
    "semaphore": "asyncio synchronization primitives coordinate tasks of one event loop.",
}


def _claims(**cites: str) -> dict[str, Any]:
    return {"claims": [{"text": CLAIMS[k], "cites": [c]} for k, c in cites.items()], "gaps": []}


def _two_searches() -> dict[str, Any]:
    return {
        "Planning": [
            planning(
                step("s1", "gather return_exceptions", tool="corpus_search"),
                step("s2", "TaskGroup cancels remaining tasks", tool="corpus_search"),
            )
        ],
        "Synthesis": [_claims(gather="s1.1", taskgroup="s2.1")],
    }


def _keys(tmp_path: Path, model: str) -> dict[str, Any]:
    """Ponder's model and tool keys, as they go in a context or configurable."""
    return {
        "model": model,
        "corpus": str(CORPUS),
        "tools": ["corpus_search", "read_document"],
        "index_dir": str(tmp_path / "index"),
    }


async def test_a_run_streams_typed_events_and_leaves_a_cited_answer(
    server: str, tmp_path: Path
) -> None:
    client = get_client(url=server)
    thread = await client.threads.create()
    context = {
        **_keys(tmp_path, _script(tmp_path / "model.json", _two_searches())),
        # Without streaming planning no step starts before its plan event: an exact order.
        "settings": {"effort": "medium", "stream_planning": False, "budgets": {"max_steps": 6}},
    }
    events, updated = [], set()
    async for part in client.runs.stream(
        thread["thread_id"],
        "research",
        input={"task": TASK},
        context=context,
        stream_mode=["custom", "updates"],
    ):
        assert part.event != "error", part.data
        if part.event == "custom":
            events.append(parse_event(part.data))
        elif part.event == "updates":
            updated |= set(part.data)

    kinds = [e.type for e in events]
    assert kinds[:2] == ["triage", "plan"]
    assert kinds[-3:] == ["citation_check", "answer", "usage"]
    assert sorted(kinds[2:-3]) == ["step_finished"] * 2 + ["step_started"] * 2
    triage = events[0]
    assert triage.type == "triage" and (triage.depth, triage.decided_by) == ("medium", "effort")
    finished = [e for e in events if e.type == "step_finished"]
    assert {(e.step_id, e.tool, e.status) for e in finished} == {
        ("s1", "corpus_search", "done"),
        ("s2", "corpus_search", "done"),
    }
    assert {"triage", "plan", "execute", "synthesize"} <= updated

    state = await client.threads.get_state(thread["thread_id"])
    values = state["values"]
    assert values["status"] == "done" and not state["next"]
    answer = values["answer"]
    assert [c["n"] for c in answer["citations"]] == [1, 2]
    for citation in answer["citations"]:
        assert citation["source"].split("#")[0] in CORPUS_FILES
        assert citation["quote"].strip()
    streamed = next(e for e in events if e.type == "answer")
    assert streamed.markdown == answer["markdown"]


async def test_an_assistant_holds_the_model_and_a_run_pauses_for_plan_approval(
    server: str, tmp_path: Path
) -> None:
    client = get_client(url=server)
    model_file = tmp_path / "model.json"
    assistant = await client.assistants.create(
        graph_id="research",
        context=_keys(tmp_path, _script(model_file, _two_searches())),
        name="corpus research",
    )
    thread = await client.threads.create()
    run_context = {"settings": {"effort": "medium", "approve_plan": True}}

    async def stream(**kw: Any) -> list[Any]:
        out = []
        async for part in client.runs.stream(
            thread["thread_id"],
            assistant["assistant_id"],
            context=run_context,
            stream_mode="custom",
            **kw,
        ):
            assert part.event != "error", part.data
            if part.event == "custom":
                out.append(parse_event(part.data))
        return out

    first = await stream(input={"task": TASK})
    assert [e.type for e in first] == ["triage", "plan"]
    paused = await client.threads.get_state(thread["thread_id"])
    assert paused["next"] == ["approve_plan"]
    request = paused["interrupts"][0]["value"]
    assert request["kind"] == "plan_approval" and request["version"] == 1
    assert [s["id"] for s in request["steps"]] == ["s1", "s2"]

    # The server builds the graph, and so loads the scripted model, afresh for each run.
    _script(
        model_file,
        {
            "Planning": [planning(step("s3", "asyncio.timeout", tool="corpus_search"))],
            "Synthesis": [_claims(timeout="s3.1")],
        },
    )
    rejected = await stream(command={"resume": {"decision": "reject", "feedback": "timeouts"}})
    assert (rejected[0].type, getattr(rejected[0], "decision", "")) == ("approval", "reject")
    assert (rejected[-1].type, getattr(rejected[-1], "version", 0)) == ("plan", 2)
    again = await client.threads.get_state(thread["thread_id"])
    assert [s["id"] for s in again["interrupts"][0]["value"]["steps"]] == ["s3"]

    done = await stream(command={"resume": {"decision": "approve"}})
    assert [e.type for e in done][:3] == ["approval", "step_started", "step_finished"]
    final = await client.threads.get_state(thread["thread_id"])
    assert final["values"]["status"] == "done"
    sources = [c["source"] for c in final["values"]["answer"]["citations"]]
    assert sources and all(s.split("#")[0] == "timeouts.md" for s in sources), sources


async def test_plan_execute_is_served_too_with_config_instead_of_context(
    server: str, tmp_path: Path
) -> None:
    client = get_client(url=server)
    model = _script(
        tmp_path / "model.json",
        {
            "Planning": [planning(step("s1", "Semaphore", tool="corpus_search"))],
            "Synthesis": [_claims(semaphore="s1.1")],
        },
    )
    result = await client.runs.wait(
        None,
        "plan_execute",
        input={"task": "Summarise what the corpus says about semaphores."},
        config={"configurable": {**_keys(tmp_path, model), "settings": {"effort": "low"}}},
    )
    assert isinstance(result, dict)
    assert result["status"] == "done"
    assert result["answer"]["citations"][0]["source"].split("#")[0] in CORPUS_FILES


async def test_schemas_are_read_without_building_a_model(server: str) -> None:
    client = get_client(url=server)
    # No model, corpus or key is configured: reads must still work.
    assistants = await client.assistants.search(graph_id="research")
    schemas = await client.assistants.get_schemas(assistants[0]["assistant_id"])
    assert "task" in schemas["input_schema"]["properties"]
    assert {"answer", "status"} <= set(schemas["output_schema"]["properties"])
    assert "settings" in schemas["context_schema"]["properties"]
    graph = await client.assistants.get_graph(assistants[0]["assistant_id"])
    assert {"triage", "plan", "execute", "reflect", "synthesize"} <= {
        n["id"] for n in graph["nodes"]
    }


async def test_a_bad_model_spec_fails_the_run_with_ponders_message(
    server: str, tmp_path: Path
) -> None:
    client = get_client(url=server)
    errors = [
        part.data
        async for part in client.runs.stream(
            None,
            "research",
            input={"task": TASK},
            context={**_keys(tmp_path, "script:/no/such/model.json")},
        )
        if part.event == "error"
    ]
    assert len(errors) == 1
    assert errors[0]["error"] == "ConfigError"
    assert "cannot load the scripted model /no/such/model.json" in errors[0]["message"]
