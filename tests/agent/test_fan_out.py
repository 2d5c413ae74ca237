"""Fan-out (`for_each`) pinned down with scripted models and tools that return lists."""

from __future__ import annotations

import asyncio
import uuid
from io import StringIO
from typing import Any

import pytest
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console

from agent.checkpointing import checkpoint_serde
from agent.cli.live import LiveView
from agent.dispatch import cancel_steps
from agent.events import PlanEvent, StepFinishedEvent, StepStartedEvent, parse_event
from agent.observation import ListItem, Observation
from agent.plan import PlanDiff, PlanStep
from agent.plan_rules import StepDraft, check_plan
from agent.report import RunReport
from agent.settings import Settings
from agent.testing import ScriptedChatModel, plan_step
from agent.toolset import Toolset
from graphs.research import build_research_graph
from tests.agent.graph_run import run_research, settings
from tests.conftest import planning, synthesis

URLS = [f"https://example.org/page{i}" for i in range(1, 8)]


def search_tool(count: int = 7) -> BaseTool:
    """A search whose observation lists ``count`` results."""

    async def find(query: str) -> tuple[str, Observation]:
        items = tuple(ListItem(url=u, title=f"Page {i}") for i, u in enumerate(URLS[:count], 1))
        obs = Observation(
            tool="find", ok=True, content=f"{count} results for {query}", value=URLS[0],
            lists={"results": items},
        )  # fmt: skip
        return obs.content, obs

    return StructuredTool.from_function(
        coroutine=find,
        name="find",
        description="find: search",
        response_format="content_and_artifact",
    )


def read_tool(calls: list[str], fail: set[str] | None = None, delay: float = 0.0) -> BaseTool:
    """A page reader that records each URL it reads; URLs in ``fail`` fail once."""
    failing = set(fail or ())

    async def read(url: str) -> str:
        calls.append(url)
        await asyncio.sleep(delay)
        if url in failing:
            failing.discard(url)
            raise RuntimeError(f"backend failed for {url}")
        return f"Fact about {url}: the value of {url} is {len(url)}."

    return StructuredTool.from_function(coroutine=read, name="read", description="read: a page")


def lookup_tool(seen: list[str]) -> BaseTool:
    async def lookup(query: str) -> str:
        seen.append(query)
        return f"summary of {len(query)} chars"

    return StructuredTool.from_function(coroutine=lookup, name="lookup", description="lookup")


def fan_out_plan(stop: int = 5, *, then: bool = True) -> dict[str, Any]:
    steps = [
        plan_step("s1", "find", {"query": "python docs"}),
        plan_step("s2", "read", {"url": "{{item.url}}"}, for_each=f"s1.results[:{stop}]"),
    ]
    if then:
        steps.append(plan_step("s3", "lookup", {"query": "all: {{s2}}"}))
    return planning(*steps)


def test_for_each_expands_into_one_child_per_item_and_feeds_dependants() -> None:
    reads: list[str] = []
    looked: list[str] = []
    model = ScriptedChatModel(
        script={"Planning": [fan_out_plan(5)], "Synthesis": [synthesis("s2.1.1", "s2.5.1")]}
    )
    state, events = run_research(model, [search_tool(), read_tool(reads), lookup_tool(looked)])
    assert sorted(reads) == URLS[:5]
    children = [f"s2.{i}" for i in range(1, 6)]
    assert set(state["steps"]) == {"s1", *children, "s3"}
    assert [state["steps"][c].input["url"] for c in children] == URLS[:5]
    started = [e.step_id for e in events if isinstance(e, StepStartedEvent)]
    assert set(children) <= set(started) and "s2" not in started
    # the dependant read every child's text through {{s2}}
    assert all(f"[s2.{i}]" in looked[0] and URLS[i - 1] in looked[0] for i in range(1, 6))
    assert state["status"] == "done"
    views = {v.id: v for v in RunReport.from_state(state).plans[-1].steps}
    assert views["s2"].status == "done" and views["s2"].for_each == "s1.results[:5]"
    assert [v.id for v in views.values() if v.parent == "s2"] == children


def test_children_count_against_the_step_budget() -> None:
    reads: list[str] = []
    model = ScriptedChatModel(
        repeat_last=True,
        script={"Planning": [fan_out_plan(5, then=False)], "Synthesis": [synthesis("s1.1")]},
    )
    state, _ = run_research(
        model, [search_tool(), read_tool(reads)], config=settings(max_steps=3, max_replans=0)
    )
    assert len(reads) == 2, "the search plus two children use up a budget of three steps"
    assert state["status"] == "budget_exhausted"


def test_a_failed_child_is_judged_and_retried_like_any_step() -> None:
    reads: list[str] = []
    model = ScriptedChatModel(
        script={
            "Planning": [fan_out_plan(3, then=False)],
            "Reflection": [
                {"verdicts": [], "decision": "retry", "retry": ["s2.2"], "reason": "flaky"},
                {"verdicts": [], "decision": "continue", "reason": "ok"},
            ],
            "Synthesis": [synthesis("s2.2.1")],
        }
    )
    state, _ = run_research(model, [search_tool(), read_tool(reads, fail={URLS[1]})])
    assert reads.count(URLS[1]) == 2
    assert state["steps"]["s2.2"].attempt == 2 and state["steps"]["s2.2"].ok
    assert state["status"] == "done"


def test_a_source_without_the_list_fails_the_fan_out_step() -> None:
    reads: list[str] = []
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [
                planning(
                    plan_step("s1", "find", {"query": "q"}),
                    plan_step("s2", "read", {"url": "{{item.url}}"}, for_each="s1.links[:3]"),
                )
            ],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "no links"}],
            "Synthesis": [synthesis("s1.1")],
        },
    )
    state, _ = run_research(model, [search_tool(), read_tool(reads)])
    record = state["steps"]["s2"]
    assert record.status == "failed" and record.observation.error is not None
    assert "no list 'links'" in record.observation.error.message
    assert reads == []


def _draft(**extra: Any) -> StepDraft:
    base: dict[str, Any] = {
        "id": "s2",
        "goal": "read",
        "tool": "read",
        "input": {"url": "{{item.url}}"},
    }
    return StepDraft.model_validate({**base, **extra})


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"for_each": "s1.results[:50]"}, "at most 20"),
        ({"for_each": "s1.results[4:2]"}, "selects no items"),
        ({"for_each": "results of s1"}, "not of the form"),
        ({"for_each": "s9.results[:3]"}, "not a step of the plan"),
        ({"for_each": "s2.results[:3]"}, "its own list"),
        ({}, "has no for_each"),
        ({"for_each": "s1.results[:3]", "input": {"url": "{{item.href}}"}}, "no field 'href'"),
        ({"for_each": "s1.results[:3]", "input": {"url": "fixed"}}, "never uses the item"),
    ],
)
def test_plan_rules_check_the_for_each_construct(extra: dict[str, Any], problem: str) -> None:
    toolset = Toolset([search_tool(), read_tool([])])
    first = StepDraft(id="s1", goal="find", tool="find", input={"query": "q"})
    message = check_plan([first, _draft(**extra)], toolset, max_steps=5)
    assert message is not None and problem in message, message


def test_for_each_source_becomes_a_dependency() -> None:
    toolset = Toolset([search_tool(), read_tool([])])
    first = StepDraft(id="s1", goal="find", tool="find", input={"query": "q"})
    draft = _draft(for_each="s1.results[1:4]")
    assert draft.depends_on == ["s1"]
    assert check_plan([first, draft], toolset, max_steps=5) is None


def test_resume_after_a_crash_mid_fan_out_does_not_redo_finished_children() -> None:
    """The run stops mid-fan-out; a new graph on the same checkpoint finishes it."""

    reads: list[str] = []
    delays = {u: 0.15 * i for i, u in enumerate(URLS[:5])}

    async def read(url: str) -> str:
        reads.append(url)
        await asyncio.sleep(delays[url])
        return f"Fact about {url}: the value of {url} is {len(url)}."

    reader = StructuredTool.from_function(coroutine=read, name="read", description="read")
    saver = InMemorySaver(serde=checkpoint_serde())
    thread = {"configurable": {"thread_id": uuid.uuid4().hex}}

    def graph() -> Any:
        model = ScriptedChatModel(
            script={"Planning": [fan_out_plan(5, then=False)], "Synthesis": [synthesis("s2.1.1")]}
        )
        return build_research_graph(
            model, [search_tool(), reader], checkpointer=saver, settings=Settings()
        )

    first = graph()
    for chunk in first.stream({"task": "read the docs"}, thread, stream_mode="custom"):
        event = parse_event(chunk)
        if isinstance(event, StepFinishedEvent) and event.step_id == "s2.3":
            break  # the process dies here: later supersteps never run
    saved = first.get_state(thread).values
    cancel_steps(saved["run_id"])  # a new process starts with an empty step pool
    kept = {k for k in saved["steps"] if k.startswith("s2.")}
    assert {"s2.1", "s2.2"} <= kept and len(kept) < 5
    reads_before = list(reads)

    second = graph()
    second.invoke(None, thread)
    state = second.get_state(thread).values
    assert {f"s2.{i}" for i in range(1, 6)} <= set(state["steps"])
    redone = [u for u in reads[len(reads_before) :] if u in {URLS[int(k[3:]) - 1] for k in kept}]
    assert redone == [], f"finished children ran again: {redone}"
    assert state["status"] == "done"


def test_the_live_plan_tree_shows_children_under_their_fan_out_step() -> None:

    console = Console(file=StringIO(), width=120)
    view = LiveView(console)
    steps = (
        PlanStep(id="s1", goal="find", tool="find"),
        PlanStep(id="s2", goal="read", tool="read", input={"url": "{{item.url}}"},
                 depends_on=("s1",), for_each="s1.results[:2]"),
    )  # fmt: skip
    view._apply(PlanEvent(run_id="r", version=1, reasoning="", diff=PlanDiff(), steps=steps))
    view._apply(StepStartedEvent(run_id="r", step_id="s2.1", tool="read", goal="g", input={}))
    view._apply(StepFinishedEvent(run_id="r", step_id="s2.2", tool="read", status="done",
                                  summary="page two", duration_s=0.5))  # fmt: skip
    console.print(view._tree())
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    parent = next(i for i, line in enumerate(lines) if "s2 read" in line)
    assert "for each of s1.results[:2]" in lines[parent]
    assert "s2.1" in lines[parent + 1] and "running" in lines[parent + 1]
    assert "s2.2" in lines[parent + 2] and "page two" in lines[parent + 2]


def test_a_compact_plan_carries_for_each() -> None:
    """``s2 = read(url={{item.url}}) for s1.results[:3]`` fans out as its JSON twin does."""
    reads: list[str] = []
    looked: list[str] = []
    plan = (
        "s1 = find(query='python docs')  # search\n"
        "s2 = read(url={{item.url}}) for s1.results[:3]  # read each result\n"
        "s3 = lookup(query='all: {{s2}}')  # sum them up"
    )
    reply = {"mode": "research", "depth": "medium", "triage_reason": "t", "reasoning": "r"}
    model = ScriptedChatModel(
        script={"Planning": [{**reply, "plan": plan}], "Synthesis": [synthesis("s2.1.1")]}
    )
    state, _ = run_research(
        model,
        [search_tool(), read_tool(reads), lookup_tool(looked)],
        config=Settings(plan_format="compact"),
    )
    sent = model.calls_for("Planning")[0]
    assert "plan" in sent.schema["properties"]
    assert sorted(reads) == URLS[:3]
    assert set(state["steps"]) == {"s1", "s2.1", "s2.2", "s2.3", "s3"}
    assert state["plans"][-1].step("s2").for_each == "s1.results[:3]"  # type: ignore[union-attr]
    assert state["status"] == "done"
