"""Reply builders for scripted models: one typed plan-step builder, and replies built from a schema.

Tests and the benchmark both script Ponder's planner; `plan_step` and
`planning_reply` are the one way to write its replies, validated by the same
`StepDraft` model the planner parses, so a script that the planner would
refuse fails where it is written. `reply_from_schema` builds the smallest
reply a JSON schema accepts (as pydantic-ai's ``TestModel`` does), so a test
states only the fields that matter to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from agent.compact_plan import format_plan
from agent.plan import TaskMode
from agent.plan_rules import StepDraft
from agent.settings import DepthName

__all__ = ["as_compact_plan", "plan_step", "planning_reply", "reply_from_schema"]


def plan_step(
    sid: str,
    tool: str,
    tool_input: Mapping[str, JsonValue] | None = None,
    *,
    goal: str = "",
    after: Sequence[str] = (),
    expected: str = "",
    for_each: str | None = None,
) -> dict[str, Any]:
    """One step of a scripted plan, as the model sends it: ``plan_step("s2", "fetch_url",
    {"url": "{{s1.url}}"}, after=["s1"])``; with ``for_each="s1.results[:5]"`` the
    input names each item as ``{{item.url}}``. Raises pydantic's ValidationError on a bad id."""
    draft = StepDraft(
        id=sid,
        goal=goal or f"run {tool} for {sid}",
        tool=tool,
        input=dict(tool_input or {}),
        depends_on=list(after),
        expected=expected,
        for_each=for_each,
    )
    left_out = ({"expected"} if not expected else set()) | ({"for_each"} if not for_each else set())
    return draft.model_dump(exclude=left_out or None)


def planning_reply(
    *steps: Mapping[str, Any],
    reasoning: str = "Break the task into steps.",
    mode: TaskMode = "research",
    depth: DepthName = "medium",
    triage_reason: str = "needs facts",
    answer: str = "",
) -> dict[str, Any]:
    """The planner's whole reply: triage, visible reasoning and the steps."""
    reply: dict[str, Any] = {
        "mode": mode,
        "depth": depth,
        "triage_reason": triage_reason,
        "reasoning": reasoning,
        "steps": [dict(s) for s in steps],
    }
    if answer:
        reply["answer"] = answer
    return reply


def as_compact_plan(reply: Any, schema: Mapping[str, Any]) -> Any:
    """A scripted plan in the form the call asked for: when the schema wants a compact
    ``plan`` text, the reply's ``steps`` are written as one (`agent.compact_plan`), so one
    script serves both plan formats; any other reply is returned as it is."""
    props = schema.get("properties") or {}
    if not isinstance(reply, dict) or "plan" not in props or "steps" in props:
        return reply
    if not isinstance(reply.get("steps"), list):
        return reply
    out = {k: v for k, v in reply.items() if k != "steps"}
    out["plan"] = format_plan(reply["steps"])
    return out


def reply_from_schema(schema: Mapping[str, Any], fill: Mapping[str, Any] | None = None) -> Any:
    """The smallest value `schema` (JSON Schema, as bound to a tool) accepts, with `fill`
    laid over the top-level object: required fields only, first enum value, minimum lengths."""
    value = _minimal(schema, schema.get("$defs", {}))
    if fill:
        if not isinstance(value, dict):
            raise TypeError(f"fill needs an object schema, got {schema.get('type')!r}")
        value = {**value, **fill}
    return value


def _minimal(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    if "$ref" in schema:
        return _minimal(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            options = [o for o in schema[union] if o.get("type") != "null"] or schema[union]
            return _minimal(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        return {name: _minimal(props[name], defs) for name in schema.get("required", [])}
    if kind == "array":
        item = schema.get("items", {})
        return [_minimal(item, defs) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    return None
