"""What LangGraph tooling (server, Studio, MCP/A2A) reads from the graphs: their JSON schemas."""

from __future__ import annotations

import pytest

from agent.checkpointing import checkpoint_allowlist
from agent.testing import ScriptedChatModel
from graphs.plan_execute import build_plan_execute_graph
from graphs.research import build_research_graph


@pytest.mark.parametrize("build", [build_research_graph, build_plan_execute_graph])
def test_input_output_and_context_schemas(build) -> None:
    graph = build(ScriptedChatModel(), [])
    assert graph.get_input_jsonschema()["required"] == ["task"]
    assert set(graph.get_output_jsonschema()["properties"]) == {
        "answer",
        "status",
        "stop_reason",
        "usage",
    }
    context = graph.get_context_jsonschema()
    assert context is not None and set(context["properties"]) == {"settings"}


def test_the_checkpoint_allowlist_still_sees_every_state_type() -> None:
    names = {name for _, name in checkpoint_allowlist()}
    assert {"StepRecord", "Plan", "Answer", "Reflection", "Settings", "Observation"} <= names
