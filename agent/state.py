"""The run state of Ponder's graphs, with explicit, order-independent reducers.

Everything a run learns lives here and so in the checkpoint: the triage
decision, every plan version, one record per executed step (with its
observation), reflections, usage and the answer. Executor supersteps can
finish steps in any order, so merging records must not depend on order.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, NotRequired, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from agent.observation import Observation
from agent.plan import Plan, TriageDecision
from agent.settings import Settings

__all__ = [
    "NODE_ROLES",
    "Answer",
    "Citation",
    "CitationTally",
    "InputState",
    "ModelRole",
    "NodeUsage",
    "Note",
    "OutputState",
    "Reference",
    "Reflection",
    "ReflectionDecision",
    "ReportClaim",
    "ReportSection",
    "ResearchState",
    "RunStatus",
    "StepRecord",
    "Usage",
    "Verdict",
    "VerdictKind",
    "add_usage",
    "append_plans",
    "append_reflections",
    "merge_approvals",
    "merge_step_records",
]

ReflectionDecision = Literal["continue", "retry", "replan", "finish"]
"""What a reflection decides the run does next."""
VerdictKind = Literal["ok", "failed", "insufficient"]
"""A reflection's judgement of one step: it met its goal, failed, or ran but fell short."""
RunStatus = Literal["running", "done", "unanswered", "budget_exhausted", "failed", "interrupted"]
"""``unanswered``: the run ended normally but produced no cited answer."""
StepStatus = Literal["done", "failed", "skipped"]
ModelRole = Literal["model", "fast_model"]
"""``model`` plans, reflects and writes; ``fast_model`` takes notes, extracts values and
answers trivial tasks (triage). One model plays both unless ``--fast-model`` is given."""
NODE_ROLES: dict[str, ModelRole] = {
    "notes": "fast_model",
    "executor": "fast_model",
    "triage": "fast_model",
}
"""The role whose model a node's calls go to (the executor's are value extractions)."""


class Note(BaseModel):
    """A fact a step's page holds, for the step's goal, with the exact span it came from.

    ``span`` is ``document[start:end]`` of the stored text under ``source`` (a key of
    the observation's ``documents``): a note is kept only when its quote was found
    there, so the writer's citations stay checkable against the raw text.
    """

    model_config = ConfigDict(frozen=True)

    fact: str
    source: str
    span: str
    start: int
    end: int


class StepRecord(BaseModel):
    """One attempt at one plan step, with what its tool returned."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["step"] = "step"
    step_id: str
    plan_version: int
    attempt: int = 1
    tool: str
    input: dict[str, JsonValue] = Field(description="input after placeholders were filled")
    status: StepStatus
    observation: Observation
    started_at: float = 0.0
    finished_at: float = 0.0
    errors_before: tuple[str, ...] = Field(
        default=(), description="error messages of earlier attempts, for stall detection"
    )
    notes: tuple[Note, ...] = Field(
        default=(), description="facts for the step's goal; when set, the writer reads these"
    )
    notes_dropped: int = Field(default=0, description="notes whose span the page does not hold")
    notes_error: str = Field(default="", description="why no notes were taken, if they were due")

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    step_id: str
    attempt: int = 1
    verdict: VerdictKind
    reason: str = ""


class Reflection(BaseModel):
    """A reflection: the verdict on each finished step and what the run does next."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reflection"] = "reflection"
    index: int
    plan_version: int
    verdicts: tuple[Verdict, ...] = ()
    decision: ReflectionDecision
    reason: str = ""
    retry: tuple[str, ...] = ()
    stalled: bool = False
    by: Literal["model", "rules"] = "model"


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    passage_id: str
    source: str
    title: str = ""
    quote: str
    kind: Literal["document", "snippet", "output"] = Field(
        default="document",
        description="a fetched or stored document, a search result's snippet, a tool's output",
    )


class CitationTally(BaseModel):
    """What the citation check found, per citation: a quote first, then support."""

    model_config = ConfigDict(frozen=True)

    checked: int = 0
    quoted: int = Field(default=0, description="quote found in the stored source text")
    supported: int = Field(default=0, description="quoted, and the words say what the claim does")
    unsupported: int = Field(default=0, description="quoted, but the claim is not supported")
    snippets: int = Field(default=0, description="supported only by a search result's snippet")
    claims: int = 0
    claims_unsupported: int = Field(default=0, description="claims left with no citation")
    judged_by: str = Field(default="words", description="'words', or 'words+model' at high effort")


class ReportClaim(BaseModel):
    """One claim of a long report, with the citations the check verified (none: unsupported)."""

    model_config = ConfigDict(frozen=True)

    text: str
    citations: tuple[Citation, ...] = ()


class ReportSection(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    claims: tuple[ReportClaim, ...] = ()


class Reference(BaseModel):
    """A numbered source of a long report: every citation of it carries its number."""

    model_config = ConfigDict(frozen=True)

    n: int
    source: str
    title: str = ""
    kind: Literal["document", "snippet", "output"] = "document"


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["answer"] = "answer"
    markdown: str
    citations: tuple[Citation, ...] = ()
    gaps: tuple[str, ...] = Field(default=(), description="what the evidence did not cover")
    rejected: tuple[str, ...] = Field(default=(), description="citations dropped by the check")
    tally: CitationTally = CitationTally()
    written_by: Literal["model", "evidence", "none"] = Field(
        default="model",
        description="the model wrote it; built from the evidence without the model; no answer",
    )
    # A long report (``Settings(report="long")``) also keeps its structure:
    title: str = ""
    summary: tuple[ReportClaim, ...] = ()
    sections: tuple[ReportSection, ...] = ()
    references: tuple[Reference, ...] = ()


class NodeUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: NodeUsage) -> NodeUsage:
        return NodeUsage(
            model_calls=self.model_calls + other.model_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Usage(BaseModel):
    """Counted per node; the run totals are sums, so updates merge in any order."""

    model_config = ConfigDict(frozen=True)

    by_node: dict[str, NodeUsage] = Field(default_factory=dict)
    tool_calls: int = 0
    wall_s: float = 0.0

    @property
    def model_calls(self) -> int:
        return sum(u.model_calls for u in self.by_node.values())

    @property
    def input_tokens(self) -> int:
        return sum(u.input_tokens for u in self.by_node.values())

    @property
    def output_tokens(self) -> int:
        return sum(u.output_tokens for u in self.by_node.values())

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def by_role(self) -> dict[ModelRole, NodeUsage]:
        """Usage per model role (`NODE_ROLES`); only roles that made calls appear."""
        roles: dict[ModelRole, NodeUsage] = {}
        for node, used in self.by_node.items():
            role = NODE_ROLES.get(node, "model")
            roles[role] = roles.get(role, NodeUsage()) + used
        return {role: used for role, used in roles.items() if used.model_calls}

    def summary(self) -> dict[str, float | int]:
        return {
            "model_calls": self.model_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tool_calls": self.tool_calls,
            "wall_s": round(self.wall_s, 3),
        }


def add_usage(left: Usage | None, right: Usage | None) -> Usage:
    if left is None:
        return right or Usage()
    if right is None:
        return left
    nodes = dict(left.by_node)
    for name, u in right.by_node.items():
        nodes[name] = nodes.get(name, NodeUsage()) + u
    return Usage(
        by_node=nodes,
        tool_calls=left.tool_calls + right.tool_calls,
        wall_s=left.wall_s + right.wall_s,
    )


_STATUS_RANK = {"skipped": 0, "failed": 1, "done": 2}
_Written = TypeVar("_Written", bound=BaseModel)


def _either_order(old: _Written, new: _Written) -> _Written:
    """Of two writes under one key, the one kept whichever came first: a replay is kept
    once, and two different writes are ordered by their content."""
    if old == new:
        return old
    return new if _canonical(new) > _canonical(old) else old


def _canonical(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True)


def _rank(record: StepRecord) -> tuple[int, int, float]:
    return (record.attempt, _STATUS_RANK[record.status], record.finished_at)


def merge_step_records(
    left: dict[str, StepRecord] | None, right: dict[str, StepRecord] | None
) -> dict[str, StepRecord]:
    """Keep, per step, the latest attempt (a finished one beats a skipped one, then the
    later finish), so records merge the same in any order."""
    merged = dict(left or {})
    for step_id, record in (right or {}).items():
        old = merged.get(step_id)
        if old is None or _rank(record) > _rank(old):
            merged[step_id] = record
        elif _rank(record) == _rank(old):
            merged[step_id] = _either_order(old, record)
    return merged


def append_plans(left: list[Plan] | None, right: list[Plan] | None) -> list[Plan]:
    """Plan versions are unique; a version seen twice (a replayed write) is kept once."""
    by_version = {p.version: p for p in (left or [])}
    for plan in right or []:
        old = by_version.get(plan.version)
        by_version[plan.version] = plan if old is None else _either_order(old, plan)
    return [by_version[v] for v in sorted(by_version)]


def append_reflections(
    left: list[Reflection] | None, right: list[Reflection] | None
) -> list[Reflection]:
    """Reflection indexes are unique; an index seen twice is kept once, as for plans."""
    by_index = {r.index: r for r in (left or [])}
    for reflection in right or []:
        old = by_index.get(reflection.index)
        by_index[reflection.index] = reflection if old is None else _either_order(old, reflection)
    return [by_index[i] for i in sorted(by_index)]


def merge_approvals(left: dict[str, bool] | None, right: dict[str, bool] | None) -> dict[str, bool]:
    """A person's decision on a code step is final: a refusal is never overwritten."""
    merged = dict(left or {})
    for key, ok in (right or {}).items():
        merged[key] = merged.get(key, True) and ok
    return merged


class InputState(TypedDict):
    """What a caller (or a parent graph) passes in.

    ``steps``: finished evidence from an earlier run (see `agent.follow_up`).
    """

    task: str
    steps: NotRequired[Annotated[dict[str, StepRecord], merge_step_records]]


class OutputState(TypedDict, total=False):
    """What a caller (or a parent graph) gets back."""

    answer: Answer | None
    status: RunStatus
    stop_reason: str
    usage: Annotated[Usage, add_usage]


class ResearchState(TypedDict, total=False):
    task: str
    run_id: str
    settings: Settings
    triage: TriageDecision | None
    plans: Annotated[list[Plan], append_plans]
    steps: Annotated[dict[str, StepRecord], merge_step_records]
    reflections: Annotated[list[Reflection], append_reflections]
    usage: Annotated[Usage, add_usage]
    code_approvals: Annotated[dict[str, bool], merge_approvals]
    pending_approval: list[str]
    answer: Answer | None
    status: RunStatus
    stop_reason: str
    feedback: str
    clarify_question: str
    clarify_why: str
