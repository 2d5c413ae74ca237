"""What the planner must answer, and the rules a plan must follow.

The schema sent to the model is built per run: step tools are an enum of the
registered tools and each tool's input follows that tool's own argument schema,
so a grammar-constrained backend (llama.cpp) cannot emit an unknown tool or a
malformed input at all. The DAG rules (unique ids, known dependencies, no
cycles, placeholders only on dependencies, the step budget) are checked after,
and a violation goes back to the model word for word.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any, ClassVar

from pydantic import BaseModel, Field, JsonValue, model_validator

from agent.compact_grammar import GBNF_KEY, compact_plan_gbnf
from agent.compact_plan import CompactPlanError, parse_plan
from agent.fan_out import ITEM_FIELDS, ITEM_PLACEHOLDER, MAX_FAN_OUT, parse_for_each
from agent.models.structured import ReplySchema
from agent.plan import STEP_ID, PlanStep, TaskMode, placeholder_refs
from agent.settings import DepthName
from agent.toolset import Toolset

__all__ = [
    "Planning",
    "Replanning",
    "StepDraft",
    "check_plan",
    "planning_json_schema",
    "to_plan_steps",
]


ORDERED_PLAN_STEPS = 4
"""Steps in a plan written under a grammar (small local models)."""


class StepDraft(BaseModel):
    id: str = Field(pattern=STEP_ID, description="s1, s2, ... unique in the plan")
    goal: str = Field(description="what this step finds out, in one sentence")
    tool: str
    input: dict[str, JsonValue] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    expected: str = Field(default="", description="the evidence that would satisfy the goal")
    for_each: str | None = Field(
        default=None,
        description="run once per item of an earlier step's list, e.g. 's1.results[:5]'; "
        "the input names the item as {{item.url}}",
    )

    @model_validator(mode="after")
    def _placeholders_are_dependencies(self) -> StepDraft:
        """A step that uses ``{{s1}}`` (or maps over s1's list) depends on s1."""
        refs = [ref for ref, _field, _how in placeholder_refs(self.input)]
        spec = parse_for_each(self.for_each) if self.for_each else None
        if spec is not None and not isinstance(spec, str):
            refs.append(spec.source)
        for ref in refs:
            if ref != self.id and ref not in self.depends_on:
                self.depends_on.append(ref)
        return self


COMPACT_PLAN = (
    "one line per step: s1 = tool(arg='value') # goal. {{s1}} in an argument uses s1's "
    "result; 'for s1.results[:5]' after the call runs it per item ({{item.url}}); "
    "'after s1,s2' waits for steps whose results it does not use"
)


def _steps_from_compact(data: Any) -> Any:
    """A reply whose steps come as a compact ``plan`` text, with its steps parsed out."""
    if not isinstance(data, dict) or not isinstance(data.get("plan"), str) or data.get("steps"):
        return data
    try:
        return {**data, "steps": parse_plan(data["plan"])}
    except CompactPlanError as exc:
        raise ValueError(str(exc)) from None


class Planning(ReplySchema):
    """Triage the task, think it through, then plan the steps."""

    SCRIPT_KEY: ClassVar[str] = "Planning"

    mode: TaskMode = "research"
    depth: DepthName | None = None
    triage_reason: str = ""
    answer: str = Field(default="", description="only when mode is direct")
    reasoning: str = Field(description="your step-by-step breakdown of the task")
    steps: list[StepDraft] = Field(default_factory=list)
    plan: str = Field(default="", description=f"the steps written compactly: {COMPACT_PLAN}")

    @model_validator(mode="before")
    @classmethod
    def _compact_steps(cls, data: Any) -> Any:
        return _steps_from_compact(data)


class Replanning(ReplySchema):
    """Revise the plan: keep what is done, add what is still missing."""

    SCRIPT_KEY: ClassVar[str] = "Replanning"

    reasoning: str = Field(description="what went wrong or is missing, and the fix")
    keep: list[str] = Field(default_factory=list, description="unfinished steps to keep")
    steps: list[StepDraft] = Field(default_factory=list, description="new steps only")
    plan: str = Field(default="", description=f"new steps written compactly: {COMPACT_PLAN}")

    @model_validator(mode="before")
    @classmethod
    def _compact_steps(cls, data: Any) -> Any:
        return _steps_from_compact(data)


def _step_variants(
    toolset: Toolset, *, step_id: str | None = None, prior: list[str] | None = None
) -> dict[str, Any]:
    """One step's schema: a variant per tool, each with that tool's own input schema.

    With ``step_id`` the id is fixed and ``depends_on`` may name only ``prior``
    ids, so a grammar-constrained model cannot write a cycle or a dangling id.
    """
    if prior is None:
        deps: dict[str, Any] = {
            "type": "array",
            "items": {"type": "string", "pattern": STEP_ID},
            "maxItems": 6,
        }
    elif prior:
        deps = {
            "type": "array",
            "items": {"type": "string", "enum": prior},
            "maxItems": min(len(prior), 6),
        }
    else:
        deps = {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    ident = (
        {"type": "string", "const": step_id} if step_id else {"type": "string", "pattern": STEP_ID}
    )
    ordered = prior is not None
    for_each = _for_each_schema(prior)
    variants = [
        {
            "type": "object",
            "properties": {
                "id": ident,
                "goal": {"type": "string", "maxLength": 300},
                "tool": {"type": "string", "const": name},
                "input": _refs_only_to(toolset.parameters(name), prior)
                if ordered
                else toolset.parameters(name),
                "depends_on": deps,
                "expected": {"type": "string", "maxLength": 200},
                **({"for_each": for_each} if for_each else {}),
            },
            # Free-form plans may leave depends_on out: placeholders imply it.
            "required": ["id", "goal", "tool", "input", *(["depends_on"] if ordered else [])],
        }
        for name in toolset.names
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _for_each_schema(prior: list[str] | None) -> dict[str, Any] | None:
    """``for_each`` as a pattern; under a grammar it may name only ``prior`` steps."""
    if prior is not None and not prior:
        return None
    source = "|".join(re.escape(p) for p in prior) if prior else "s[0-9]{1,3}"
    return {
        "type": "string",
        "pattern": rf"^({source})[.](results|links)\[[0-9]?:[0-9]{{1,2}}\]$",
        "description": f"optional: map over an earlier step's list (at most {MAX_FAN_OUT} items)",
    }


def _refs_only_to(params: dict[str, Any], prior: list[str] | None) -> dict[str, Any]:
    """A tool's input schema whose text fields may hold placeholders only to ``prior`` steps.

    Under a grammar this keeps a step from using its own or a later step's
    result: text may hold single braces (code does) but ``{{`` only as the
    start of a placeholder naming an earlier step.
    """
    refs = "|".join(re.escape(p) for p in prior or [])
    placeholder = (
        rf"|[{{][{{] *({refs})([.][A-Za-z_][A-Za-z0-9_]*)? *([|][^}}]*)?[}}][}}]" if refs else ""
    )
    item = "|".join(ITEM_FIELDS)
    placeholder += rf"|[{{][{{] *item([.]({item}))? *[}}][}}]"
    pattern = rf"^([^{{]|[{{][^{{]{placeholder})*[{{]?$"
    props = {
        name: (
            {**spec, "pattern": pattern}
            if spec.get("type") == "string" and not {"enum", "const", "pattern"} & spec.keys()
            else spec
        )
        for name, spec in params.get("properties", {}).items()
    }
    return {**params, "properties": props}


def _steps_schema(
    toolset: Toolset, max_steps: int, ordered: bool, first: int, known: list[str]
) -> dict[str, Any]:
    if not ordered:
        return {"type": "array", "items": _step_variants(toolset), "maxItems": max(1, max_steps)}
    # For grammar-constrained decoding: ids come in order (s<first>, s<first+1>, …)
    # and each step depends only on finished steps or steps before it. The plan
    # has a fixed length: a choice of lengths would multiply the grammar (and
    # the schema the small model reads) by the number of lengths.
    positions = []
    for i in range(min(max(1, max_steps), ORDERED_PLAN_STEPS)):
        ids = [f"s{first + j}" for j in range(i)]
        positions.append(_step_variants(toolset, step_id=f"s{first + i}", prior=known + ids))
    n = len(positions)
    return {"type": "array", "prefixItems": positions, "items": False, "minItems": n, "maxItems": n}


def _compact_schema(
    toolset: Toolset, max_steps: int, ordered: bool, first: int, known: list[str]
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": COMPACT_PLAN}
    if ordered:
        count = min(max(1, max_steps), ORDERED_PLAN_STEPS)
        schema[GBNF_KEY] = compact_plan_gbnf(toolset, first=first, known=known, count=count)
    return schema


def planning_json_schema(
    toolset: Toolset,
    *,
    max_steps: int,
    triage: bool,
    allow_direct: bool,
    replan: bool = False,
    ordered: bool = False,
    first_id: int = 1,
    known: list[str] | None = None,
    unfinished: list[str] | None = None,
    compact: bool = False,
) -> dict[str, Any]:
    """The schema the model sees for a first plan (with triage folded in) or a replan.

    ``ordered`` suits grammar-constrained backends: the plan is a DAG by
    construction (``first_id`` numbers new steps; ``known`` are finished steps)
    and a replan can keep only ``unfinished`` steps. ``compact`` asks for the
    steps as one ``plan`` text (`agent.compact_plan`) instead of a ``steps`` array;
    with ``ordered`` too, its grammar rides along under ``x-gbnf``.
    """
    steps = (
        _compact_schema(toolset, max_steps, ordered, first_id, list(known or []))
        if compact
        else _steps_schema(toolset, max_steps, ordered, first_id, list(known or []))
    )
    key = "plan" if compact else "steps"
    reasoning = {"type": "string", "maxLength": 1000}  # llama.cpp grammars cap repetition
    if replan:
        keep: dict[str, Any] = {"type": "array", "items": {"type": "string", "pattern": STEP_ID}}
        if ordered:
            keep = (
                {"type": "array", "items": {"type": "string", "enum": unfinished}}
                if unfinished
                else {"type": "array", "items": {"type": "string"}, "maxItems": 0}
            )
        return {
            "title": Replanning.SCRIPT_KEY,
            "description": Replanning.__doc__,
            "type": "object",
            "properties": {
                "reasoning": reasoning,
                "keep": keep,
                key: steps,
            },
            "required": ["reasoning", "keep", key],
        }
    props: dict[str, Any] = {}
    required = ["reasoning", key]
    if triage:
        modes = ["research", "compute", "direct"] if allow_direct else ["research", "compute"]
        props["mode"] = {"type": "string", "enum": modes}
        props["depth"] = {"type": "string", "enum": ["low", "medium", "high"]}
        props["triage_reason"] = {"type": "string", "maxLength": 300}
        required = ["mode", "depth", "triage_reason", *required]
        if allow_direct:
            props["answer"] = {"type": "string", "maxLength": 1000}
    props["reasoning"] = reasoning
    props[key] = steps
    return {
        "title": Planning.SCRIPT_KEY,
        "description": Planning.__doc__,
        "type": "object",
        "properties": props,
        "required": required,
    }


def check_plan(
    drafts: list[StepDraft],
    toolset: Toolset,
    *,
    max_steps: int,
    finished: frozenset[str] = frozenset(),
    kept: frozenset[str] = frozenset(),
) -> str | None:
    """The first rule the plan breaks, phrased for the model; None if it is sound.

    ``finished`` are steps already done in earlier versions (they may be
    depended on but not redefined); ``kept`` are unfinished earlier steps that
    stay in the plan.
    """
    if not drafts and not kept:
        return "the plan has no steps; add at least one step"
    if len(drafts) > max_steps:
        return f"the plan has {len(drafts)} steps but at most {max_steps} are allowed"
    seen: set[str] = set()
    for d in drafts:
        if d.id in seen:
            return f"step id {d.id} is used twice; ids must be unique"
        if d.id in finished or d.id in kept:
            return f"step id {d.id} already exists in the plan; give the new step a new id"
        seen.add(d.id)
    known = seen | finished | kept
    graph: dict[str, set[str]] = {}
    for d in drafts:
        problem = toolset.validate_input(d.tool, d.input)
        if problem:
            return f"step {d.id}: {problem}"
        for dep in d.depends_on:
            if dep not in known:
                return f"step {d.id} depends on {dep}, which is not a step of the plan"
            if dep == d.id:
                return f"step {d.id} depends on itself"
        for ref, _field, _how in placeholder_refs(d.input):
            if ref == d.id:
                return f"step {d.id} uses its own result {{{{{ref}}}}}, which does not exist yet"
        problem = _fan_out_problem(d, known)
        if problem:
            return problem
        graph[d.id] = {dep for dep in d.depends_on if dep in seen}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " → ".join(str(x) for x in exc.args[1])
        return f"the steps form a cycle ({cycle}); a step cannot depend on its own result"
    return None


def _fan_out_problem(d: StepDraft, known: set[str]) -> str | None:
    """What is wrong with a step's ``for_each`` and its ``{{item}}`` placeholders, if anything."""
    items = [m.group(1) for m in ITEM_PLACEHOLDER.finditer(repr(d.input))]
    if d.for_each is None:
        if items:
            return f"step {d.id} uses {{{{item}}}} but has no for_each to take items from"
        return None
    spec = parse_for_each(d.for_each)
    if isinstance(spec, str):
        return f"step {d.id}: {spec}"
    if spec.source == d.id:
        return f"step {d.id} maps over its own list, which does not exist yet"
    if spec.source not in known:
        return f"step {d.id} maps over {spec.source}, which is not a step of the plan"
    if spec.source not in d.depends_on:
        return f"step {d.id} maps over {spec.source}, so it must depend on {spec.source}"
    if not items:
        return (
            f"step {d.id} has for_each but its input never uses the item; "
            "put {{item.url}} where each item goes"
        )
    wrong = sorted({f for f in items if f is not None and f not in ITEM_FIELDS})
    if wrong:
        return f"step {d.id}: items have no field {wrong[0]!r} (fields: {', '.join(ITEM_FIELDS)})"
    return None


def to_plan_steps(drafts: list[StepDraft]) -> tuple[PlanStep, ...]:
    return tuple(
        PlanStep(
            id=d.id,
            goal=d.goal,
            tool=d.tool,
            input=d.input,
            depends_on=tuple(d.depends_on),
            expected=d.expected,
            for_each=d.for_each,
        )
        for d in drafts
    )
