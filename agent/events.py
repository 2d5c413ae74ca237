"""The typed event stream of a run: the one source of truth for every view of it.

Nodes emit these through LangGraph's custom stream (``stream_mode="custom"``) as
plain JSON-ready dicts, so they cross the LangGraph server unchanged; turn one
back into its model with `parse_event`. Event shapes are stable: fields may be
added, never renamed or removed.

    triage → plan → step_started/step_finished … → reflection → replan → plan …
           → citation_check → answer → usage

With streaming planning (``Settings.stream_planning``, the default) a step that
needs no other step starts while its plan is still being written, so its
``step_started`` comes before that plan's ``triage`` and ``plan`` events; if the
finished plan drops the step, it is cancelled and no ``step_finished`` follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from agent.plan import (
    ApprovalDecision,
    Plan,
    PlanChoice,
    PlanDiff,
    PlanStep,
    TaskMode,
    TriageDecision,
)
from agent.state import NodeUsage, ReflectionDecision, Verdict

__all__ = [
    "AnswerEvent",
    "ApprovalEvent",
    "CitationCheckEvent",
    "Event",
    "EventSink",
    "PlanEvent",
    "ReflectionEvent",
    "ReplanEvent",
    "StepFinishedEvent",
    "StepStartedEvent",
    "TriageEvent",
    "UsageEvent",
    "VoteEvent",
    "emit",
    "parse_event",
]

EventSink = Callable[[Any], None]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    ts: float = Field(default_factory=time.time)


class TriageEvent(_Event):
    type: Literal["triage"] = "triage"
    mode: TaskMode
    depth: str
    reason: str
    decided_by: str

    @classmethod
    def of(cls, run_id: str, decision: TriageDecision) -> TriageEvent:
        return cls(
            run_id=run_id,
            mode=decision.mode,
            depth=decision.depth,
            reason=decision.reason,
            decided_by=decision.decided_by,
        )


class PlanEvent(_Event):
    type: Literal["plan"] = "plan"
    version: int
    reasoning: str
    steps: tuple[PlanStep, ...]
    diff: PlanDiff
    reason: str = ""
    choice: PlanChoice | None = None

    @classmethod
    def of(cls, run_id: str, plan: Plan) -> PlanEvent:
        """The announcement of ``plan`` (a new version, with its diff and reason)."""
        return cls(
            run_id=run_id,
            version=plan.version,
            reasoning=plan.reasoning,
            steps=plan.steps,
            diff=plan.diff,
            reason=plan.reason,
            choice=plan.choice,
        )


class ApprovalEvent(_Event):
    type: Literal["approval"] = "approval"
    version: int
    decision: ApprovalDecision
    feedback: str = ""


class StepStartedEvent(_Event):
    type: Literal["step_started"] = "step_started"
    step_id: str
    tool: str
    goal: str
    input: dict[str, JsonValue]
    attempt: int = 1


class StepFinishedEvent(_Event):
    type: Literal["step_finished"] = "step_finished"
    step_id: str
    tool: str
    status: Literal["done", "failed", "skipped"]
    summary: str
    duration_s: float
    attempt: int = 1
    via: str = ""
    error_kind: str = ""
    notes: int = Field(default=0, description="checked notes taken from what the step read")


class ReflectionEvent(_Event):
    type: Literal["reflection"] = "reflection"
    verdicts: tuple[Verdict, ...]
    decision: ReflectionDecision
    reason: str
    stalled: bool = False
    by: str = "model"


class ReplanEvent(_Event):
    type: Literal["replan"] = "replan"
    from_version: int
    reason: str


class CitationCheckEvent(_Event):
    """Per citation: ``checked`` ⊇ ``quoted`` (quote in the stored source) = ``supported``
    + ``unsupported`` + ``snippets``; ``kept`` is ``supported`` (its older name)."""

    type: Literal["citation_check"] = "citation_check"
    checked: int
    kept: int
    rejected: tuple[str, ...] = ()
    quoted: int = 0
    supported: int = 0
    unsupported: int = 0
    snippets: int = 0
    claims: int = 0
    claims_unsupported: int = 0
    judged_by: str = "words"


class AnswerEvent(_Event):
    type: Literal["answer"] = "answer"
    status: str
    markdown: str
    citations: tuple[dict[str, JsonValue], ...] = ()


class UsageEvent(_Event):
    type: Literal["usage"] = "usage"
    model_calls: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    wall_s: float
    by_role: dict[str, NodeUsage] = Field(
        default_factory=dict, description="model calls and tokens per model role"
    )


class VoteEvent(_Event):
    """The verifier's choice among sampled reasoning paths (``--samples N``)."""

    type: Literal["vote"] = "vote"
    chosen: int | None
    vote: dict[str, int]
    candidates: tuple[dict[str, JsonValue], ...] = ()


Event = Annotated[
    TriageEvent
    | PlanEvent
    | ApprovalEvent
    | StepStartedEvent
    | StepFinishedEvent
    | ReflectionEvent
    | ReplanEvent
    | CitationCheckEvent
    | AnswerEvent
    | UsageEvent
    | VoteEvent,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(payload: dict[str, Any]) -> Event:
    """Turn a dict from the custom stream back into its event model."""
    return _ADAPTER.validate_python(payload)


def emit(sink: EventSink | None, event: _Event) -> None:
    """Send an event to LangGraph's stream writer (a no-op outside a stream)."""
    if sink is not None:
        sink(event.model_dump(mode="json"))
