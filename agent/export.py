"""Runs to training data: chat fine-tuning examples and whole trajectories.

A run's checkpoint holds what each model call produced (every plan version
with its reasoning, each reflection, the answer) and what each tool returned,
so the calls are rebuilt from it rather than logged twice: each example's
system message is the role's instruction, the conversation is the task, the
plan steps as tool calls and their results as tool messages, and the last
assistant message is what that call produced. Only the last assistant message
carries weight 1. Tool results from documents or the web stay fenced as
untrusted data, and every string passes `Redactor` before it is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import JsonValue

from agent.export_records import (
    CHAT_SCHEMA,
    AssistantMessage,
    CandidateView,
    ChatExample,
    ChatTool,
    CitationCheckView,
    EvalScore,
    FunctionCall,
    PlanRecord,
    StepDigest,
    SystemMessage,
    ToolCall,
    ToolMessage,
    TrajectoryRecord,
    UserMessage,
)
from agent.observation import fence_text
from agent.plan import Plan
from agent.prompts import render_prompt
from agent.state import Answer, Reflection, StepRecord, Usage
from agent.step_views import record_digest

__all__ = ["Redactor", "chat_examples", "trajectory_record", "verified"]

_DIGEST_CHARS = 1500
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_SECRET_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,}|(?<=Bearer )[A-Za-z0-9._~+/-]{16,}"
)
REDACTED = "[REDACTED]"


class Redactor:
    """Replaces secrets in every string: the values of secret-named environment
    variables, and anything shaped like a well-known API key."""

    def __init__(self, env: Mapping[str, str], extra: Iterable[str] = ()) -> None:
        values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 8}
        values |= {v for v in extra if len(v) >= 8}
        self._values = sorted(values, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _instruction(role: str) -> str:
    return render_prompt("export", role=role, task="")[0].content  # type: ignore[return-value]


def _records(state: Mapping[str, Any]) -> dict[str, StepRecord]:
    return dict(state.get("steps") or {})


def _tool_result(record: StepRecord | None) -> str:
    if record is None:
        return "(not run)"
    text = record_digest(record, limit=_DIGEST_CHARS)
    obs = record.observation
    if obs.untrusted:
        return fence_text(text, obs.passages[0].ref if obs.passages else obs.tool)
    return text


def _call_id(plan: Plan, step_id: str) -> str:
    return f"call_v{plan.version}_{step_id}"


def _plan_turn(plan: Plan, *, weight: int) -> AssistantMessage:
    calls = [
        ToolCall(
            id=_call_id(plan, s.id),
            function=FunctionCall(name=s.tool, arguments=json.dumps(s.input)),
        )
        for s in plan.steps
    ]
    return AssistantMessage(
        content=plan.reasoning or None,
        tool_calls=calls or None,
        weight=weight,  # type: ignore[arg-type]
    )


def _results(plan: Plan, records: Mapping[str, StepRecord]) -> list[ToolMessage]:
    out = []
    for s in plan.steps:
        record = records.get(s.id)
        shown = record if record is not None and record.plan_version <= plan.version else None
        out.append(ToolMessage(tool_call_id=_call_id(plan, s.id), content=_tool_result(shown)))
    return out


def _history(plans: list[Plan], records: Mapping[str, StepRecord]) -> list[Any]:
    messages: list[Any] = []
    for plan in plans:
        if plan.steps:
            messages += [_plan_turn(plan, weight=0), *_results(plan, records)]
    return messages


def _tools(plans: list[Plan]) -> list[ChatTool]:
    names = sorted({s.tool for p in plans for s in p.steps})
    return [
        ChatTool(
            function={
                "name": n,
                "description": f"Ponder tool {n}",
                "parameters": {"type": "object"},
            }
        )
        for n in names
    ]


def chat_examples(state: Mapping[str, Any], redactor: Redactor) -> list[ChatExample]:
    """One example per model call the run's checkpoint records: each plan version,
    each model reflection, and the answer."""
    task = str(state.get("task", ""))
    run_id = str(state.get("run_id", ""))
    plans: list[Plan] = list(state.get("plans") or [])
    records = _records(state)
    tools = _tools(plans) or None
    user = UserMessage(content=redactor.text(f"Task: {task}"))
    examples: list[tuple[str, list[Any]]] = []
    for i, plan in enumerate(plans):
        turns: list[Any] = [SystemMessage(content=_instruction("plan")), user]
        turns += _history(plans[:i], records)
        if i:
            turns.append(UserMessage(content=f"Replan: {plan.reason or 'the plan fell short'}"))
        if plan.steps or plan.reasoning:
            examples.append(("plan", [*turns, _plan_turn(plan, weight=1)]))
    for reflection in state.get("reflections") or []:
        if reflection.by != "model":
            continue
        seen = [p for p in plans if p.version <= reflection.plan_version]
        turns = [SystemMessage(content=_instruction("reflect")), user, *_history(seen, records)]
        turns.append(UserMessage(content="Judge the finished steps and decide what comes next."))
        verdict = reflection.model_dump(mode="json", include={"decision", "reason", "verdicts"})
        examples.append(
            ("reflect", [*turns, AssistantMessage(content=json.dumps(verdict), weight=1)])
        )
    answer: Answer | None = state.get("answer")
    if answer is not None and answer.markdown.strip():
        turns = [SystemMessage(content=_instruction("synthesize")), user, *_history(plans, records)]
        turns.append(UserMessage(content="Answer the task from the evidence, citing it."))
        examples.append(
            ("synthesize", [*turns, AssistantMessage(content=answer.markdown, weight=1)])
        )
    out = []
    for n, (role, messages) in enumerate(examples):
        raw = {
            "messages": [m.model_dump(mode="json", exclude_none=True) for m in messages],
            "tools": [t.model_dump(mode="json") for t in tools] if tools else None,
            "metadata": {"schema": CHAT_SCHEMA, "run_id": run_id, "call": n, "role": role},
        }
        out.append(ChatExample.model_validate(redactor.value(raw)))
    return out


def _check(answer: Answer | None) -> CitationCheckView:
    from agent.scoring import claim_counts

    if answer is None:
        return CitationCheckView(citations=[], rejected=[], unsupported_claims=0, verified=False)
    counts = claim_counts(answer.markdown)
    return CitationCheckView(
        citations=list(answer.citations),
        rejected=list(answer.rejected),
        unsupported_claims=counts.unsupported,
        verified=bool(answer.citations) and counts.unsupported == 0,
    )


def verified(state: Mapping[str, Any]) -> bool:
    """The answer's citations all held and no claim was left unsupported."""
    return _check(state.get("answer")).verified


def trajectory_record(
    state: Mapping[str, Any],
    redactor: Redactor,
    *,
    status: str,
    eval_score: EvalScore | None = None,
) -> TrajectoryRecord:
    plans: list[Plan] = list(state.get("plans") or [])
    steps = [
        StepDigest(
            step_id=r.step_id,
            plan_version=r.plan_version,
            attempt=r.attempt,
            tool=r.tool,
            input=dict(r.input),
            status=r.status,
            digest=_tool_result(r),
            untrusted=r.observation.untrusted,
            duration_s=round(r.duration_s, 3),
        )
        for r in sorted(_records(state).values(), key=lambda r: (r.plan_version, r.step_id))
    ]
    answer: Answer | None = state.get("answer")
    reflections: list[Reflection] = list(state.get("reflections") or [])
    sampling: Mapping[str, Any] = state.get("sampling") or {}
    raw: dict[str, Any] = {
        "run_id": str(state.get("run_id", "")),
        "task": str(state.get("task", "")),
        "status": status,
        "stop_reason": str(state.get("stop_reason", "")),
        "triage": _dump(state.get("triage")),
        "plans": [
            PlanRecord(
                version=p.version,
                reasoning=p.reasoning,
                reason=p.reason,
                steps=[s.model_dump(mode="json") for s in p.steps],
                choice=p.choice.model_dump(mode="json") if p.choice else None,
            ).model_dump(mode="json")
            for p in plans
        ],
        "steps": [s.model_dump(mode="json") for s in steps],
        "reflections": [r.model_dump(mode="json") for r in reflections],
        "candidates": [
            CandidateView.model_validate(c).model_dump(mode="json")
            for c in sampling.get("candidates", [])
        ],
        "vote": dict(sampling.get("vote", {})),
        "answer": answer.markdown if answer else "",
        "citation_check": _check(answer).model_dump(mode="json"),
        "eval": eval_score.model_dump(mode="json") if eval_score else None,
        "usage": (state.get("usage") or Usage()).summary(),
    }
    return TrajectoryRecord.model_validate(redactor.value(raw))


def _dump(value: Any) -> JsonValue:
    return value.model_dump(mode="json") if value is not None else None
