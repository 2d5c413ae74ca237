"""Human approval before any step whose tool needs it, through LangGraph's ``interrupt()``.

Resume with ``{"decision": "approve"}``, ``{"decision": "reject"}`` or
``{"decision": "edit", "input": {...}}``. A refused step fails with a
``refused`` observation that the reflection sees. An edit (validated against
the tool's input schema; an invalid one pauses again with the error) makes a
new plan version with the edited input, approved as the person wrote it.
The gate that keeps an unapproved step from starting is `agent.dispatch.start_step`;
this node only asks.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, JsonValue, ValidationError

from agent.dispatch import approval_key, needs_approval, step_key
from agent.events import PlanEvent, emit
from agent.nodes._deps import NodeDeps
from agent.plan import ApprovalDecision, Plan, PlanStep
from agent.progress import current_plan, ready_steps
from agent.state import ResearchState

__all__ = ["CodeDecision", "approve_code"]


class CodeDecision(BaseModel):
    decision: ApprovalDecision
    input: dict[str, JsonValue] | None = None


def approve_code(state: ResearchState, runtime: Runtime[Any], *, deps: NodeDeps) -> dict[str, Any]:
    plan = current_plan(state)
    settings = deps.settings_of(state, runtime)
    decided = state.get("code_approvals") or {}
    approvals: dict[str, bool] = {}
    edited: dict[str, PlanStep] = {}
    for step, attempt in ready_steps(state):
        if not needs_approval(settings, deps.toolset, step.tool):
            continue
        name = approval_key(step_key(state["run_id"], step, attempt))
        if name in decided:
            continue
        decision = _ask(state, plan, step, deps)
        if decision.decision == "edit" and decision.input is not None:
            changed = step.model_copy(update={"input": decision.input})
            edited[step.id] = changed
            approvals[approval_key(step_key(state["run_id"], changed, attempt))] = True
        else:
            approvals[name] = decision.decision == "approve"
    update: dict[str, Any] = {"code_approvals": approvals, "pending_approval": []}
    if edited and plan is not None:
        update["plans"] = [_edited_plan(plan, edited, state["run_id"], runtime)]
    return update


def _ask(state: ResearchState, plan: Plan | None, step: PlanStep, deps: NodeDeps) -> CodeDecision:
    """Interrupt until the person's answer is readable (and an edit is valid)."""
    request: dict[str, Any] = {
        "kind": "code_approval",
        "run_id": state["run_id"],
        "plan_version": plan.version if plan else 0,
        "step_id": step.id,
        "tool": step.tool,
        "goal": step.goal,
        "input": step.input,
        "error": "",
    }
    while True:
        raw = interrupt(request)
        try:
            decision = CodeDecision.model_validate(raw)
        except ValidationError as exc:
            request = {**request, "error": f"unreadable decision: {exc.errors()[0]['msg']}"}
            continue
        if decision.decision != "edit":
            return decision
        problem = (
            "an edit needs the new input"
            if decision.input is None
            else deps.toolset.validate_input(step.tool, decision.input)
        )
        if problem is None:
            return decision
        request = {**request, "error": f"the edited input is invalid: {problem}"}


def _edited_plan(
    plan: Plan, edited: dict[str, PlanStep], run_id: str, runtime: Runtime[Any]
) -> Plan:
    steps = tuple(edited.get(s.id, s) for s in plan.steps)
    new = Plan(
        version=plan.version + 1,
        reasoning=plan.reasoning,
        steps=steps,
        reason=f"{', '.join(edited)} edited by a person before running",
        origin="edited",
    )
    new = new.model_copy(update={"diff": new.diff_from(plan)})
    emit(runtime.stream_writer, PlanEvent.of(run_id, new))
    return new
