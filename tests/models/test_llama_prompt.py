"""How a ChatLlamaCpp call becomes template turns, a schema hint and a grammar (no model run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field

from agent.models._llama_engine import Sampling
from agent.models._llama_prompt import (
    ToolSpec,
    chat_messages,
    compact_schema,
    normalize_tool_choice,
    plan_call,
    tool_spec,
)
from tests.models.conftest import needs_llama

SAMPLING = Sampling(
    temperature=0.2, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1, max_tokens=64, seed=None
)


class Book(BaseModel):
    """A book."""

    title: str = Field(description="the book's title")
    year: int


def test_roles_alternate_and_tool_turns_become_text() -> None:
    turns = chat_messages(
        [
            SystemMessage("Be terse."),
            HumanMessage("What is 2+2?"),
            HumanMessage("Quickly."),
            AIMessage("", tool_calls=[{"name": "calc", "args": {"x": "2+2"}, "id": "c1"}]),
            ToolMessage("4", tool_call_id="c1", name="calc"),
        ]
    )
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[1]["content"] == "What is 2+2?\n\nQuickly."
    assert json.loads(turns[2]["content"]) == {"name": "calc", "arguments": {"x": "2+2"}}
    assert "`calc`" in turns[3]["content"] and turns[3]["content"].endswith("4")


def test_instructions_join_the_system_turn_or_open_one() -> None:
    assert chat_messages([SystemMessage("A")], "B")[0]["content"] == "A\n\nB"
    assert chat_messages([HumanMessage("hi")], "B")[0] == {"role": "system", "content": "B"}


def test_text_blocks_are_joined_and_other_blocks_refused() -> None:
    turns = chat_messages([HumanMessage([{"type": "text", "text": "a"}, "b"])])
    assert turns[0]["content"] == "ab"
    with pytest.raises(ValueError, match="text only"):
        chat_messages([HumanMessage([{"type": "image_url", "image_url": {"url": "x"}}])])


def test_compact_schema_drops_nested_titles_but_not_a_field_named_title() -> None:
    text = compact_schema(Book.model_json_schema(), 2000)
    assert text is not None
    data = json.loads(text)
    assert data["title"] == "Book" and "title" in data["properties"]
    assert "title" not in data["properties"]["title"]
    assert data["properties"]["title"]["description"] == "the book's title"
    assert compact_schema(Book.model_json_schema(), 20) is None
    assert compact_schema(Book.model_json_schema(), 0) is None


@needs_llama
@pytest.mark.parametrize(("hint_chars", "shown"), [(2000, True), (40, False), (0, False)])
def test_schema_hint_only_when_short_enough(hint_chars: int, shown: bool) -> None:
    plan = plan_call(
        [HumanMessage("Name a book.")],
        SAMPLING,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Book", "schema": Book.model_json_schema()},
        },
        tools=[],
        tool_choice=None,
        hint_chars=hint_chars,
    )
    assert plan.mode == "json" and plan.grammar
    has_hint = plan.turns[0]["role"] == "system" and "JSON schema" in plan.turns[0]["content"]
    assert has_hint is shown


@needs_llama
def test_tools_win_over_response_format_unless_choice_is_none() -> None:
    spec = tool_spec(Book)
    common: dict[str, Any] = {"response_format": {"type": "json_object"}, "hint_chars": 2000}
    forced = plan_call([HumanMessage("x")], SAMPLING, tools=[spec], tool_choice="any", **common)
    assert (forced.mode, forced.tool) == ("tool", "Book")
    none = plan_call([HumanMessage("x")], SAMPLING, tools=[spec], tool_choice="none", **common)
    assert none.mode == "json"
    auto = plan_call([HumanMessage("x")], SAMPLING, tools=[spec], tool_choice=None, **common)
    assert auto.mode == "auto" and "ponder-text" in (auto.grammar or "")


def test_tool_choice_forms() -> None:
    one = [ToolSpec("a", "", {})]
    two = [ToolSpec("a", "", {}), ToolSpec("b", "", {})]
    assert normalize_tool_choice("any", one) == "a"
    assert normalize_tool_choice("required", two) == "any"
    assert normalize_tool_choice(True, two) == "any"
    assert normalize_tool_choice({"type": "function", "function": {"name": "b"}}, two) == "b"
    assert normalize_tool_choice(None, two) == "auto"
    assert normalize_tool_choice("none", two) == "none"
    with pytest.raises(ValueError):
        normalize_tool_choice("c", two)


def test_tool_spec_sources() -> None:
    class Titled(BaseModel):
        model_config = ConfigDict(title="Renamed")
        x: int

    assert tool_spec(Titled).name == "Renamed"
    assert tool_spec({"title": "T", "type": "object", "properties": {}}).name == "T"
    openai_style = {
        "type": "function",
        "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
    }
    assert tool_spec(openai_style) == ToolSpec("f", "d", {"type": "object"})
