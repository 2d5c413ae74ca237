"""The test doubles: schema-built replies, the one plan-step builder, the hosted-call guard."""

from __future__ import annotations

import httpx
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import ValidationError

from agent.nodes.synthesizer import Synthesis
from agent.plan_rules import Planning
from agent.testing import SchemaChatModel, plan_step, planning_reply, reply_from_schema
from tests.agent.graph_run import run_research
from tests.conftest import recording_tool


def test_a_reply_built_from_the_planning_schema_is_valid() -> None:
    reply = reply_from_schema(Planning.model_json_schema())
    assert Planning.model_validate(reply).steps == []
    filled = reply_from_schema(
        Planning.model_json_schema(), {"steps": [plan_step("s1", "lookup", {"query": "q"})]}
    )
    assert Planning.model_validate(filled).steps[0].input == {"query": "q"}


def test_schema_values_follow_enums_minimums_and_refs() -> None:
    schema = {
        "type": "object",
        "required": ["kind", "n", "items", "inner"],
        "properties": {
            "kind": {"enum": ["retry", "finish"]},
            "n": {"type": "integer", "minimum": 3},
            "items": {"type": "array", "minItems": 2, "items": {"type": "string"}},
            "inner": {"$ref": "#/$defs/Inner"},
            "optional": {"type": "string"},
        },
        "$defs": {
            "Inner": {"type": "object", "required": ["ok"],
                      "properties": {"ok": {"type": "boolean"}}},
        },
    }  # fmt: skip
    assert reply_from_schema(schema) == {
        "kind": "retry", "n": 3, "items": ["x", "x"], "inner": {"ok": False}
    }  # fmt: skip


def test_plan_step_refuses_what_the_planner_would_refuse() -> None:
    with pytest.raises(ValidationError):
        plan_step("step one", "lookup")
    assert plan_step("s2", "lookup", {"query": "{{s1}}"}, goal="g", after=["s1"]) == {
        "id": "s2", "goal": "g", "tool": "lookup", "input": {"query": "{{s1}}"},
        "depends_on": ["s1"],
    }  # fmt: skip


def test_a_schema_model_runs_the_whole_graph_from_the_plan_alone() -> None:
    """The test states only the plan; triage, synthesis and the rest come from the schemas."""
    tool, log = recording_tool()
    model = SchemaChatModel(
        fill={"Planning": planning_reply(plan_step("s1", "lookup", {"query": "a"}))}
    )
    state, _ = run_research(model, [tool])
    assert log.count("a") == 1
    assert "s1" in state["steps"]
    roles = [c.role for c in model.calls]
    assert roles[0] == "Planning" and "Synthesis" in roles
    assert Synthesis.model_validate(reply_from_schema(model.calls_for("Synthesis")[0].schema))


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(
            lambda: ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", max_retries=0),
            id="openai",
        ),
        pytest.param(
            lambda: ChatAnthropic(model="claude-haiku-4-5", api_key="sk-test", max_retries=0),
            id="anthropic",
        ),
        pytest.param(lambda: ChatOllama(model="llama3.1"), id="ollama"),
    ],
)  # fmt: skip
def test_a_real_hosted_model_call_fails_the_test(model) -> None:
    with pytest.raises(pytest.fail.Exception, match="real hosted model"):
        model().invoke("hello")


async def test_the_guard_leaves_mock_transports_alone() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="faked"))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("https://api.openai.com/v1/models")).text == "faked"
