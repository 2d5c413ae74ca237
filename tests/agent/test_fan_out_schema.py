"""`for_each` in every schema the planner answers under: free JSON, ordered (grammar) plans."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from langchain_core.tools import StructuredTool

from agent.models._grammar import prepare_schema, schema_gbnf
from agent.plan_rules import Planning, planning_json_schema
from agent.testing import plan_step, planning_reply
from agent.toolset import Toolset
from tests.models.conftest import needs_llama


async def _read(url: str) -> str:
    return url


async def _find(query: str) -> str:
    return query


TOOLSET = Toolset(
    [
        StructuredTool.from_function(coroutine=_find, name="find", description="find: search"),
        StructuredTool.from_function(coroutine=_read, name="read", description="read: a page"),
    ]
)


def _reply(for_each: str, url: str = "{{item.url}}") -> dict[str, Any]:
    return planning_reply(
        plan_step("s1", "find", {"query": "q"}),
        plan_step("s2", "read", {"url": url}, after=["s1"], for_each=for_each),
    )


def _variants(schema: dict[str, Any], position: int | None = None) -> list[dict[str, Any]]:
    steps = schema["properties"]["steps"]
    node = steps["items"] if position is None else steps["prefixItems"][position]
    return list(node.get("anyOf", [node]))


def test_free_plan_schema_takes_an_optional_for_each() -> None:
    schema = planning_json_schema(TOOLSET, max_steps=6, triage=True, allow_direct=False)
    for variant in _variants(schema):
        assert "for_each" in variant["properties"]
        assert "for_each" not in variant["required"]
    jsonschema.validate(_reply("s1.results[:5]"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_reply("the results of s1"), schema)
    parsed = Planning.model_validate(_reply("s1.results[:5]"))  # JSON mode / function calling
    assert parsed.steps[1].for_each == "s1.results[:5]"


def test_ordered_plan_schema_maps_only_over_earlier_steps() -> None:
    schema = planning_json_schema(
        TOOLSET, max_steps=2, triage=True, allow_direct=False, ordered=True
    )
    assert all("for_each" not in v["properties"] for v in _variants(schema, 0))
    second = _variants(schema, 1)
    assert all("for_each" in v["properties"] for v in second)
    jsonschema.validate(_reply("s1.links[2:4]"), schema)
    for bad in (_reply("s2.results[:5]"), _reply("s1.results[:5]", url="{{s2}}")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_grammar_schema_keeps_the_for_each_field_and_pattern() -> None:
    schema = planning_json_schema(
        TOOLSET, max_steps=2, triage=True, allow_direct=False, ordered=True
    )
    prepared = prepare_schema(schema)
    variant = _variants(prepared, 1)[0]
    assert "pattern" in variant["properties"]["for_each"]
    gbnf = schema_gbnf(schema)
    for_each_rule = next(line for line in gbnf.splitlines() if "for-each ::=" in line)
    assert '("s1")' in for_each_rule and '"result" "s"' in for_each_rule, for_each_rule


@needs_llama
def test_llama_cpp_accepts_the_fan_out_grammar() -> None:
    from agent.models.demo import demo_model

    schema = planning_json_schema(
        TOOLSET, max_steps=3, triage=True, allow_direct=False, ordered=True
    )
    assert demo_model().load()._grammar(schema_gbnf(schema)) is not None
