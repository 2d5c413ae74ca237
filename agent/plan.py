"""Plans: steps with dependencies, their versions, and the diff between versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.settings import DepthName

__all__ = [
    "PLACEHOLDER",
    "RUN_STEP_ID",
    "STEP_ID",
    "ApprovalDecision",
    "Plan",
    "PlanChoice",
    "PlanDiff",
    "PlanStep",
    "TaskMode",
    "TriageDecision",
    "placeholder_refs",
]

STEP_ID = r"^s[0-9]{1,3}$"
RUN_STEP_ID = r"^s[0-9]{1,3}(\.[0-9]{1,2})?$"
"""A step as it runs: a plan step, or a fan-out child (``s3.2``)."""

TaskMode = Literal["direct", "research", "compute"]
"""How a task is handled: answered at once, researched, or computed."""
ApprovalDecision = Literal["approve", "edit", "reject"]
"""A person's answer to a plan or a code step awaiting approval."""

# {{s1}}, {{s1.url}} or {{s1 | the year the release came out}}
PLACEHOLDER = re.compile(
    r"\{\{\s*(s[0-9]{1,3})(?:\.([A-Za-z_][A-Za-z0-9_]*))?\s*(?:\|([^}]*))?\}\}"
)


class PlanStep(BaseModel):
    """One node of the plan DAG."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=RUN_STEP_ID, description="s1, s2, ... (s3.1 for a fan-out child)")
    goal: str = Field(description="what this step finds out")
    tool: str
    input: dict[str, JsonValue] = Field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    expected: str = Field(default="", description="the evidence that would satisfy the goal")
    for_each: str | None = Field(
        default=None, description="map over an earlier step's list, e.g. 's1.results[:5]'"
    )

    def placeholders(self) -> list[tuple[str, str | None, str | None]]:
        return placeholder_refs(self.input)


def placeholder_refs(value: JsonValue) -> list[tuple[str, str | None, str | None]]:
    """Every (step id, field, extraction instruction) referenced inside a step input."""
    found: list[tuple[str, str | None, str | None]] = []
    if isinstance(value, str):
        for m in PLACEHOLDER.finditer(value):
            instruction = m.group(3).strip() if m.group(3) else None
            found.append((m.group(1), m.group(2), instruction or None))
    elif isinstance(value, dict):
        for v in value.values():
            found.extend(placeholder_refs(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(placeholder_refs(v))
    return found


class PlanDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    kept: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    merged: dict[str, str] = Field(
        default_factory=dict,
        description="duplicate steps the planner wrote, each with the step it was merged into",
    )


class PlanChoice(BaseModel):
    """How a first plan was picked from several sampled ones (``plan_samples``)."""

    model_config = ConfigDict(frozen=True)

    samples: int = Field(description="plans asked for")
    chosen: int = Field(description="the chosen plan's number, from 1")
    by: Literal["critic", "fallback"] = Field(
        description="critic: the critic's pick; fallback: the first valid plan"
    )
    reasons: str = Field(default="", description="the critic's reasons, or why it fell back")
    candidates: tuple[dict[str, JsonValue], ...] = Field(
        default=(), description="per sampled plan: number, steps (tool: goal), reasoning, error"
    )


class Plan(BaseModel):
    """One version of the plan. Version 1 comes from triage/planning; later ones from replans."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["plan"] = "plan"
    version: int
    reasoning: str = Field(description="the planner's visible chain of thought")
    steps: tuple[PlanStep, ...]
    reason: str = Field(default="", description="why this version was made")
    diff: PlanDiff = PlanDiff()
    origin: Literal["planner", "replan", "edited", "revised"] = Field(
        default="planner",
        description="planner: first plan; replan: after a reflection; edited: a person's "
        "edit; revised: rewritten after a person rejected it",
    )
    choice: PlanChoice | None = Field(
        default=None, description="with plan_samples > 1: the sampled plans and the critic's pick"
    )

    def step(self, step_id: str) -> PlanStep | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)

    def diff_from(self, previous: Plan | None, merged: Mapping[str, str] | None = None) -> PlanDiff:
        old = set(previous.ids) if previous else set()
        new = set(self.ids)
        return PlanDiff(
            kept=tuple(i for i in self.ids if i in old),
            added=tuple(i for i in self.ids if i not in old),
            removed=tuple(i for i in (previous.ids if previous else ()) if i not in new),
            merged=dict(merged or {}),
        )


class TriageDecision(BaseModel):
    """How much thinking the task gets, and why."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["triage"] = "triage"
    mode: TaskMode
    depth: DepthName
    reason: str
    decided_by: Literal["rules", "model", "effort"] = "model"
