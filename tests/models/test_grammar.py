"""JSON schema -> GBNF: our fixes over the stock converter, and llama.cpp accepting the result."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from agent.errors import ConfigError
from agent.models._grammar import (
    _json_safe_pattern,
    json_object_gbnf,
    prepare_schema,
    schema_gbnf,
    tool_call_gbnf,
)
from agent.plan import Plan, TriageDecision
from tests.models.conftest import needs_llama

JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')


class Leaf(BaseModel):
    label: str


class Branch(BaseModel):
    leaf: Leaf = Field(description="the leaf")
    leaves: list[Leaf]


class Tree(BaseModel):
    name: str
    children: list[Tree] = []


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def test_local_refs_are_inlined_and_siblings_kept() -> None:
    out = prepare_schema(Branch.model_json_schema())
    assert "$defs" not in out
    assert not any("$ref" in n for n in _walk(out))
    assert out["properties"]["leaf"]["properties"]["label"]["type"] == "string"
    assert out["properties"]["leaf"]["description"] == "the leaf"
    assert out["properties"]["leaves"]["items"]["required"] == ["label"]


def test_recursive_refs_stay_as_refs_into_defs() -> None:
    out = prepare_schema(Tree.model_json_schema())
    assert set(out["$defs"]) == {"Tree"}
    refs = [n["$ref"] for n in _walk(out) if "$ref" in n]
    assert refs and all(r == "#/$defs/Tree" for r in refs)


def test_non_local_ref_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="schema reference"):
        prepare_schema({"$ref": "https://example.com/schema.json"})


def test_untyped_nodes_become_any_json_value() -> None:
    out = prepare_schema(
        {
            "type": "object",
            "properties": {
                "x": {"description": "anything"},
                "y": True,
                "z": {"type": "object", "additionalProperties": {}},
            },
        }
    )
    kinds = {"string", "number", "boolean", "null", "array", "object"}
    for node in (
        out["properties"]["x"],
        out["properties"]["y"],
        out["properties"]["z"]["additionalProperties"],
    ):
        assert {alt["type"] for alt in node["anyOf"]} == kinds
    assert out["properties"]["x"]["description"] == "anything"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 5}, [1, 2, 3, 4, 5]),
        ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3}, [1, 2]),
        ({"type": "integer", "minimum": 0.5, "maximum": 2.5}, [1, 2]),
        ({"type": "integer", "minimum": 0, "maximum": 1000}, None),  # too wide: unenforced
        ({"type": "integer", "minimum": 0}, None),
        ({"type": "number", "minimum": 0, "maximum": 3}, None),
    ],
)
def test_small_integer_ranges_become_enums(field: dict[str, Any], expected: list[int] | None):
    out = prepare_schema({"type": "object", "properties": {"n": field}})
    assert out["properties"]["n"].get("enum") == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "^s[0-9]{1,3}$",
        r"^\d+\.\d+$",
        "abc",
        "^a.b",
        "[^x]+",
        r"\w+@\w+\.com$",
        r"^[\w\-]+$",
        r"^(yes|no)$",
        r"^\s?x$",
        "^[A-Z]{2}-[0-9]{3}$",
    ],
)
def test_rewritten_patterns_only_allow_json_safe_matches_of_the_original(pattern: str) -> None:
    rewritten = _json_safe_pattern(pattern)
    assert rewritten is not None and rewritten.startswith("^") and rewritten.endswith("$")

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(st.from_regex(rewritten, fullmatch=True))
    def check(text: str) -> None:
        assert re.search(pattern, text)
        assert not JSON_UNSAFE.search(text)

    check()


@pytest.mark.parametrize(
    "pattern", ["^(?=a)b$", r"^(a)\1$", r"^a\nb$", r'^"quoted"$', "^a^b$", r"^\S+$", r"[\W]"]
)
def test_patterns_the_converter_cannot_express_are_dropped(pattern: str) -> None:
    out = prepare_schema({"type": "string", "pattern": pattern})
    assert "pattern" not in out


def test_patterns_can_be_switched_off() -> None:
    assert "pattern" not in prepare_schema({"type": "string", "pattern": "^a$"}, patterns=False)


@needs_llama
def test_strings_exclude_raw_control_characters() -> None:
    grammar = schema_gbnf({"type": "object", "properties": {"s": {"type": "string"}}})
    char_rule = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert char_rule.startswith('char ::= [^"\\\\\\x00-\\x1F] |')


@needs_llama
def test_tool_call_grammar_with_text_has_one_root() -> None:
    params = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    grammar = tool_call_gbnf([("search", params), ("fetch", params)], allow_text=True)
    roots = [line for line in grammar.splitlines() if line.startswith("root ::=")]
    assert roots == ["root ::= ponder-call | ponder-text"]
    assert any(line.startswith("ponder-call ::=") for line in grammar.splitlines())
    assert '"\\"search\\""' in grammar and '"\\"fetch\\""' in grammar


class Everything(BaseModel):
    """Every schema feature the adapter claims to handle, in one model."""

    kind: Literal["a", "b"]
    fixed: Literal["x"] = "x"
    code: str = Field(pattern=r"^[A-Z]{2}\d{2}$")
    short: str = Field(max_length=12, min_length=2)
    count: int = Field(ge=1, le=4)
    ratio: float
    maybe: str | None = None
    any_value: Any = None
    mapping: dict[str, int] = {}
    pair: tuple[int, str] = (0, "")
    tags: list[str] = Field(default=[], max_length=3)
    tree: Tree | None = None


@needs_llama
@pytest.mark.demo_model
@pytest.mark.parametrize("schema", [Plan, TriageDecision, Everything, Tree, Branch])
def test_llama_cpp_accepts_the_grammar(demo: Any, schema: type[BaseModel]) -> None:
    engine = demo.load()
    assert engine._grammar(schema_gbnf(schema.model_json_schema())) is not None
    assert engine._grammar(json_object_gbnf()) is not None


@needs_llama
@pytest.mark.demo_model
def test_a_grammar_llama_cpp_rejects_is_a_config_error(demo: Any) -> None:
    with pytest.raises(ConfigError, match=r"rejected the grammar.*Undefined rule identifier"):
        demo.load()._grammar("root ::= undefined-rule")


def test_prepared_schema_is_plain_json() -> None:
    json.dumps(prepare_schema(Everything.model_json_schema()))
