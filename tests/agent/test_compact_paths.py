"""Compact plans through the hosted-API paths (faked at the HTTP transport).

Function calling (an OpenAI-compatible server) and JSON schema output (OpenAI)
both carry the plan as one string field; steps are read off it line by line
while it streams, and a line that does not parse goes back to the model word
for word.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from agent.budget import BudgetGate
from agent.models._grammar import prepare_schema
from agent.models.resolve import resolve_model
from agent.models.structured import call_structured
from agent.nodes.planner import _closed_compact_steps
from agent.plan_rules import Planning, planning_json_schema
from agent.settings import Budgets
from agent.toolset import Toolset
from bench.recording_tool import recording_tool
from tests.models.test_openai_adapter import chunk, tool_delta
from tests.models.transports import FakeProvider, sse

PLAN = "s1 = lookup(query='gather # errors')  # how gather fails\ns2 = lookup(query={{s1}})  # more"
REPLY = {
    "mode": "research",
    "depth": "low",
    "triage_reason": "facts",
    "reasoning": "r",
    "plan": PLAN,
}


def _toolset() -> Toolset:
    tool, _log = recording_tool()
    return Toolset([tool])


def _model(fake: FakeProvider, base_url: str, name: str = "llama3.1-70b") -> Any:
    sync, async_ = fake.httpx2_clients(base_url)
    return resolve_model(
        f"openai:{name}",
        base_url=base_url,
        env={"OPENAI_API_KEY": "sk-test-abcdef0123456789"},
        http_client=sync,
        http_async_client=async_,
    )


def _pieces(text: str, size: int = 9) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tool_stream(args: str, ident: str = "call_1") -> str:
    deltas = [
        tool_delta(p, ident=ident if i == 0 else None, name="Planning" if i == 0 else None)
        for i, p in enumerate(_pieces(args))
    ]
    return sse(chunk({"role": "assistant", "content": None}), *deltas, chunk({}, "tool_calls"))


def _content_stream(text: str) -> str:
    deltas = [chunk({"content": p}) for p in _pieces(text)]
    return sse(chunk({"role": "assistant", "content": ""}), *deltas, chunk({}, "stop"))


async def _plan(model: Any, seen: list[list[str]]) -> Planning:
    js = planning_json_schema(
        _toolset(), max_steps=4, triage=True, allow_direct=False, compact=True
    )

    def partial(p: dict[str, Any]) -> None:
        seen.append([d["id"] for d in _closed_compact_steps(str(p.get("plan") or ""))[:-1]])

    reply = await call_structured(
        model,
        [HumanMessage("What are the facts?")],
        Planning,
        gate=BudgetGate({}, Budgets(), "planner"),  # type: ignore[typeddict-item]
        retries=1,
        json_schema=js,
        validate=lambda _p: None,
        on_partial=partial,
    )
    return reply.value


@pytest.mark.parametrize("path", ["function_calling", "json_schema"])
async def test_the_plan_string_streams_into_steps_on_each_path(path: str) -> None:
    fake = FakeProvider()
    if path == "function_calling":  # an OpenAI-compatible server: a forced tool call
        model = _model(fake, "http://127.0.0.1:8080/v1")
        fake.queue(_tool_stream(json.dumps(REPLY)), content_type="text/event-stream")
    else:  # OpenAI itself: json_schema output streamed as content
        model = _model(fake, "https://api.openai.com/v1", "gpt-4o-mini")
        fake.queue(_content_stream(json.dumps(REPLY)), content_type="text/event-stream")
    seen: list[list[str]] = []
    value = await _plan(model, seen)
    assert [(s.id, s.input, s.depends_on) for s in value.steps] == [
        ("s1", {"query": "gather # errors"}, []),
        ("s2", {"query": "{{s1}}"}, ["s1"]),
    ]
    assert value.steps[0].goal == "how gather fails"
    assert ["s1"] in seen, "s1's line closed while the reply was still streaming"
    body = fake.last
    if path == "function_calling":
        schema = body["tools"][0]["function"]["parameters"]
    else:
        schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["plan"]["type"] == "string"
    assert "steps" not in schema["properties"] and "x-gbnf" not in json.dumps(schema)


async def test_a_line_that_does_not_parse_goes_back_to_the_model_word_for_word() -> None:
    fake = FakeProvider()
    model = _model(fake, "http://127.0.0.1:8080/v1")
    bad = {**REPLY, "plan": "s1 = lookup(query='a')  # find a\ns2 = lookup(query=b)  # find b"}
    fake.queue(_tool_stream(json.dumps(bad)), content_type="text/event-stream")
    fake.queue(_tool_stream(json.dumps(REPLY), "call_2"), content_type="text/event-stream")
    value = await _plan(model, [])
    assert [s.id for s in value.steps] == ["s1", "s2"]
    retry = fake.last["messages"][-1]["content"]
    assert (
        "That reply was rejected: reply: plan line 2 ('s2 = lookup(query=b)  # find b'): "
        "argument query is not a literal" in retry
    )


def test_a_grammar_server_gets_the_plan_as_a_plain_string() -> None:
    """A served llama.cpp builds its own grammar from the JSON schema; the compact
    grammar is Ponder's own (in process), so it is not sent."""
    js = planning_json_schema(
        _toolset(), max_steps=4, triage=True, allow_direct=False, ordered=True, compact=True
    )
    assert "cp-plan" in js["properties"]["plan"]["x-gbnf"]["rules"]
    assert prepare_schema(js)["properties"]["plan"] == {
        "type": "string",
        "description": js["properties"]["plan"]["description"],
    }
