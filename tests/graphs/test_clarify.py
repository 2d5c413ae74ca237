"""The optional clarifying question: asked only when the model finds the task ambiguous."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.settings import Settings
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis

_AMBIGUOUS = {
    "ambiguous": True,
    "question": "Which Mercury: the planet or the element?",
    "why": "Mercury names both a planet and a metal.",
}
_CLEAR = {"ambiguous": False, "question": "", "why": ""}


def _model(clarifying: dict[str, Any]) -> ScriptedChatModel:
    return ScriptedChatModel(
        script={
            "Clarifying": [clarifying],
            "Planning": [planning(step("s1", "mercury"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )


def _graph(model: ScriptedChatModel, *, clarify: bool = True) -> Any:
    tool, _ = recording_tool()
    return build_research_graph(
        model, [tool], checkpointer=InMemorySaver(), settings=Settings(clarify=clarify)
    )


def test_an_ambiguous_task_pauses_with_the_question_and_why() -> None:
    model = _model(_AMBIGUOUS)
    graph = _graph(model)
    config = {"configurable": {"thread_id": "t-clarify-ask"}}
    graph.invoke({"task": "How hot is Mercury?"}, config)
    snapshot = graph.get_state(config)
    assert snapshot.interrupts, "an ambiguous task did not pause for a question"
    request = snapshot.interrupts[0].value
    assert request["kind"] == "clarify"
    assert request["question"] == _AMBIGUOUS["question"]
    assert request["why"] == _AMBIGUOUS["why"]
    assert model.calls_for("Planning") == [], "the planner ran before the question was answered"


def test_the_answer_reaches_the_planner_prompt_and_the_run_finishes() -> None:
    model = _model(_AMBIGUOUS)
    graph = _graph(model)
    config = {"configurable": {"thread_id": "t-clarify-answer"}}
    graph.invoke({"task": "How hot is Mercury?"}, config)
    graph.invoke(Command(resume="the planet, daytime surface"), config)
    state = graph.get_state(config)
    assert not state.interrupts
    assert state.values["status"] == "done"
    prompt = model.calls_for("Planning")[0].prompt
    assert "How hot is Mercury?" in prompt
    assert "Which Mercury: the planet or the element?" in prompt
    assert "the planet, daytime surface" in prompt
    assert len(model.calls_for("Clarifying")) == 1, "resuming repeated the clarify call"


def test_a_dict_resume_works_like_a_string() -> None:
    model = _model(_AMBIGUOUS)
    graph = _graph(model)
    config = {"configurable": {"thread_id": "t-clarify-dict"}}
    graph.invoke({"task": "How hot is Mercury?"}, config)
    graph.invoke(Command(resume={"answer": "the element"}), config)
    assert "the element" in model.calls_for("Planning")[0].prompt


def test_a_clear_task_is_planned_without_asking() -> None:
    model = _model(_CLEAR)
    graph = _graph(model)
    config = {"configurable": {"thread_id": "t-clarify-clear"}}
    graph.invoke({"task": "How hot is the planet Mercury by day?"}, config)
    state = graph.get_state(config)
    assert not state.interrupts
    assert state.values["status"] == "done"
    assert len(model.calls_for("Clarifying")) == 1
    assert "Asked:" not in model.calls_for("Planning")[0].prompt


def test_clarify_is_off_by_default() -> None:
    model = _model(_AMBIGUOUS)
    graph = _graph(model, clarify=False)
    config = {"configurable": {"thread_id": "t-clarify-off"}}
    graph.invoke({"task": "How hot is Mercury?"}, config)
    assert not graph.get_state(config).interrupts
    assert model.calls_for("Clarifying") == []
    assert Settings().clarify is False
