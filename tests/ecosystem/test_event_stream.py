"""The typed event stream of one scripted run: its exact sequence, JSON round trips, and the CLI.

The run searches ``examples/corpus`` with the real corpus tools, reads a
section that does not exist (a failed step), reflects, replans and answers
with citations. The same script drives the graph in-process and ``ponder run
--events jsonl``, whose stdout must be exactly that stream.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.events import Event, PlanEvent, ReflectionEvent, parse_event
from agent.settings import Settings
from agent.testing import scripted_model_from_file
from bench.cli_runner import CORPUS, ponder, write_script
from graphs.research import build_research_graph
from tests.conftest import planning, step
from tools.toolbox import ToolboxOptions, build_toolbox

TASK = "How do asyncio timeouts cancel work?"
TOOLS = ("corpus_search", "read_document")
SCRIPT: dict[str, Any] = {
    "Planning": [
        planning(
            step("s1", "asyncio.timeout deadline", tool="corpus_search"),
            {
                "id": "s2",
                "goal": "read the section on deadlines",
                "tool": "read_document",
                "input": {"path": "timeouts.md", "section": "no-such-section"},
                "depends_on": ["s1"],
            },
        )
    ],
    "Reflection": [
        {
            "verdicts": [{"step_id": "s2", "verdict": "failed", "reason": "no such section"}],
            "decision": "replan",
            "reason": "search for wait_for instead",
        }
    ],
    "Replanning": [
        {
            "reasoning": "search instead of reading",
            "keep": [],
            "steps": [step("s3", "wait_for cancels", tool="corpus_search")],
        }
    ],
    # Claims the cited passages state, so the citation check keeps both.
    "Synthesis": [
        {
            "claims": [
                {"text": "When the delay expires, the task is cancelled.", "cites": ["s1.1"]},
                {
                    "text": "If the timeout expires, asyncio.wait_for cancels the awaitable.",
                    "cites": ["s3.1"],
                },
            ],
            "gaps": [],
        }
    ],
}

# (type, step, status or decision, plan version) of each event, in order.
CANONICAL = [
    ("triage", "", "", 0),
    ("plan", "", "", 1),
    ("step_started", "s1", "", 0),
    ("step_finished", "s1", "done", 0),
    ("step_started", "s2", "", 0),
    ("step_finished", "s2", "failed", 0),
    ("reflection", "", "replan", 0),
    ("replan", "", "", 0),
    ("plan", "", "", 2),
    ("step_started", "s3", "", 0),
    ("step_finished", "s3", "done", 0),
    ("citation_check", "", "", 0),
    ("answer", "", "done", 0),
    ("usage", "", "", 0),
]
# With streaming planning (the default) s1 starts while the plan is still being
# written, so before the planner's reply yields the triage and plan events.
STREAMING = [CANONICAL[2], CANONICAL[0], CANONICAL[1], *CANONICAL[3:]]
VOLATILE = {"ts", "run_id", "duration_s", "wall_s"}


def _key(e: Event) -> tuple[str, str, str, int]:
    status = getattr(e, "status", "") or getattr(e, "decision", "")
    return (e.type, getattr(e, "step_id", ""), status, getattr(e, "version", 0))


def _stable(e: Event) -> dict[str, Any]:
    return {k: v for k, v in e.model_dump(mode="json").items() if k not in VOLATILE}


@pytest.fixture
def script_path(tmp_path: Path) -> Path:
    return write_script(tmp_path / "model.json", SCRIPT)


def _run_in_process(
    script_path: Path, index_dir: Path, settings: Settings
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    box = build_toolbox(
        ToolboxOptions(
            search="corpus", corpus=CORPUS, index_dir=index_dir, code_sandbox="off", only=TOOLS
        )
    )
    graph = build_research_graph(
        scripted_model_from_file(script_path),
        box.tools,
        checkpointer=InMemorySaver(),
        settings=settings,
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    chunks = list(graph.stream({"task": TASK}, config, stream_mode="custom"))
    return chunks, graph.get_state(config).values


def test_exact_sequence_without_streaming_planning(script_path: Path, tmp_path: Path) -> None:
    chunks, state = _run_in_process(
        script_path, tmp_path / "index", Settings(effort="medium", stream_planning=False)
    )
    events = [parse_event(c) for c in chunks]
    assert [_key(e) for e in events] == CANONICAL
    assert state["status"] == "done"

    reflection = next(e for e in events if isinstance(e, ReflectionEvent))
    assert [(v.step_id, v.verdict) for v in reflection.verdicts] == [("s2", "failed")]
    second = [e for e in events if isinstance(e, PlanEvent)][1]
    assert (second.diff.kept, second.diff.removed, second.diff.added) == (
        ("s1",),
        ("s2",),
        ("s3",),
    )
    failed = next(e for e in events if e.type == "step_finished" and e.step_id == "s2")
    assert failed.type == "step_finished" and failed.error_kind == "not_found"


def test_every_event_round_trips_through_json(script_path: Path, tmp_path: Path) -> None:
    chunks, _ = _run_in_process(script_path, tmp_path / "index", Settings(effort="medium"))
    assert [_key(parse_event(c)) for c in chunks] == STREAMING
    for chunk in chunks:
        event = parse_event(chunk)
        # What the stream carries is exactly the model's JSON form ...
        assert chunk == event.model_dump(mode="json")
        # ... and JSON text turns back into an equal model.
        assert parse_event(json.loads(event.model_dump_json())) == event
        assert json.loads(json.dumps(chunk)) == chunk


def test_cli_events_jsonl_prints_exactly_that_stream(script_path: Path, tmp_path: Path) -> None:
    chunks, _ = _run_in_process(script_path, tmp_path / "index", Settings(effort="medium"))
    expected = [_stable(parse_event(c)) for c in chunks]

    done = ponder(
        "run",
        TASK,
        "--model",
        f"script:{script_path}",
        "--corpus",
        str(CORPUS),
        "--tools",
        ",".join(TOOLS),
        "--effort",
        "medium",
        "--events",
        "jsonl",
        home=tmp_path / "home",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines, "no events on stdout"
    printed = [parse_event(json.loads(line)) for line in lines]  # every line is one event
    assert [_key(e) for e in printed] == STREAMING
    assert [_stable(e) for e in printed] == expected
