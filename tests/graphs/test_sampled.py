"""Sampled reasoning paths: diversity, a shared tool cache, a verifier, shared budgets."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.settings import Budgets, Settings
from agent.testing import FunctionChatModel, plan_step, planning_reply
from graphs.sampled import build_sampled_graph
from tests.conftest import ToolLog, recording_tool

HINT = "Approach for this attempt"
# What the lookup tool finds for "q": two sources that disagree, so a candidate saying
# 4 and one saying 9 are both supported by the sentence they cite, and the verifier's
# vote, not the citation check, decides between them.
DISPUTED = (
    "Two surveys disagree about q. The first survey puts the value of q at 4. "
    "The second survey puts the value of q at 9. A third survey puts the value of q at 3."
)
SETTLED = "The value of q is 7."  # says 7 and nothing else


def _prompt(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def _answer(text: str, cites: list[str]) -> dict[str, Any]:
    return {"claims": [{"text": text, "cites": cites}], "gaps": []}


def _plan() -> dict[str, Any]:
    return planning_reply(plan_step("s1", "lookup", {"query": "q"}))


def _run(
    model: FunctionChatModel,
    settings: Settings,
    task: str = "What is q?",
    *,
    evidence: str = DISPUTED,
) -> tuple[dict[str, Any], ToolLog]:
    """The whole final state (read from a checkpoint) and the tool's log."""
    tool, log = recording_tool(answer=lambda query: evidence)
    graph = build_sampled_graph(model, [tool], checkpointer=InMemorySaver(), settings=settings)
    config: Any = {"configurable": {"thread_id": "t"}}

    async def go() -> dict[str, Any]:
        await graph.ainvoke({"task": task}, config)
        return dict((await graph.aget_state(config)).values)

    return asyncio.run(go()), log


def test_paths_plan_apart_share_tool_calls_and_the_majority_wins() -> None:
    def reply(messages: list[BaseMessage], role: str) -> Any:
        if role == "Planning":
            return _plan()
        four = "exact figure" in _prompt(messages)
        return _answer(f"The value of q is {4 if four else 9}.", ["s1.1"])

    model = FunctionChatModel(fn=reply, latency_s=0.05)
    state, log = _run(model, Settings(samples=3, effort="low"))
    assert state["status"] == "done"
    assert log.count() == 1, "an identical call in three paths ran more than once"
    plans = [_prompt(c.messages) for c in model.calls_for("Planning")]
    assert len(plans) == 3 and sum(HINT in p for p in plans) == 2
    hints = {p.split(HINT)[1][:60] for p in plans if HINT in p}
    assert len(hints) == 2, "two paths got the same planning hint"
    assert state["answer"].markdown.startswith("The value of q is 9. [1]")
    assert state["usage"].model_calls == 6
    sampling = state["sampling"]
    assert sampling["vote"] == {"value of q is 9": 2, "value of q is 4": 1}
    assert all(c["supported"] == 1 and not c["error"] for c in sampling["candidates"])
    assert sampling["tool_calls_run"] == 1 and sampling["tool_calls_reused"] == 2
    assert [c["chosen"] for c in sampling["candidates"]].count(True) == 1
    assert state["plans"] and state["steps"]["s1"].ok  # the chosen path's work is the run's


def test_verifier_rejects_unsupported_candidates_before_the_vote() -> None:
    """The negative control: two candidates agree on 5, one citing nothing and one
    citing a source that says 7; the citation check rejects both, so the single
    supported candidate wins a vote it would lose two to one."""

    def reply(messages: list[BaseMessage], role: str) -> Any:
        if role == "Planning":
            return _plan()
        prompt = _prompt(messages)
        if "exact figure" in prompt:  # path 2's hint: the one supported answer
            return _answer("The value of q is 7.", ["s1.1"])
        if "authoritative" in prompt:  # path 1: cites the source, which does not say 5
            return _answer("The value of q is 5.", ["s1.1"])
        return _answer("The value of q is 5.", [])

    state, _ = _run(
        FunctionChatModel(fn=reply), Settings(samples=3, effort="low"), evidence=SETTLED
    )
    assert state["status"] == "done"
    assert state["answer"].markdown.startswith("The value of q is 7. [1]")
    assert state["sampling"]["vote"] == {"value of q is 7": 1}
    rejected = [c for c in state["sampling"]["candidates"] if not c["chosen"]]
    assert len(rejected) == 2 and all("citation check" in c["error"] for c in rejected)
    assert {c["unsupported"] for c in rejected} == {1} and all(c["votes"] == 0 for c in rejected)


def test_a_failing_path_does_not_fail_the_run() -> None:
    def reply(messages: list[BaseMessage], role: str) -> Any:
        if HINT in _prompt(messages) and "authoritative" in _prompt(messages):
            raise ValueError("this path's model broke")
        return _plan() if role == "Planning" else _answer("The value of q is 3.", ["s1.1"])

    state, _ = _run(FunctionChatModel(fn=reply), Settings(samples=3, effort="low"))
    assert state["status"] == "done"
    assert state["answer"].markdown.startswith("The value of q is 3. [1]")
    broken = next(c for c in state["sampling"]["candidates"] if c["path"] == 1)
    assert not broken["chosen"] and broken["error"]


def test_budgets_cover_all_paths_together() -> None:
    def reply(messages: list[BaseMessage], role: str) -> Any:
        return _plan() if role == "Planning" else _answer("The value of q is 3.", ["s1.1"])

    model = FunctionChatModel(fn=reply)
    budgets = Budgets(max_model_calls=6)
    state, _ = _run(model, Settings(samples=5, effort="low", budgets=budgets))
    assert len(model.calls) <= 6
    assert state["usage"].model_calls <= 6


def test_auto_gives_a_greeting_one_path() -> None:
    def reply(messages: list[BaseMessage], role: str) -> Any:
        return "Hello! How can I help?"

    model = FunctionChatModel(fn=reply)
    state, _ = _run(model, Settings(samples="auto", effort="high"), task="hello")
    assert state["samples"] == 1 and len(state["sampling"]["candidates"]) == 1
