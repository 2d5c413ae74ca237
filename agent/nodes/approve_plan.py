"""Human approval of each plan version, through LangGraph's ``interrupt()``.

The graph pauses with the plan as the interrupt value. Resume with
``Command(resume={"decision": "approve"})``, ``{"decision": "edit", "steps":
[...]}`` (validated exactly like a planner's plan; an invalid edit pauses again
with the error) or ``{"decision": "reject", "feedback": "..."}``, which sends the
planner back to work with that feedback.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError

from agent.events import ApprovalEvent, PlanEvent, emit
from agent.nodes._deps import NodeDeps
from agent.plan import ApprovalDecision, Plan
from agent.plan_rules import StepDraft, check_plan, to_plan_steps
from agent.progress import current_plan, executed_count
from agent.state import ResearchState

__all__ = ["PlanDecision", "approve_plan"]


class PlanDecision(BaseModel):
    decision: ApprovalDecision
    steps: list[StepDraft] = Field(default_factory=list, description="the edited plan")
    feedback: str = ""


def approve_plan(state: ResearchState, runtime: Runtime[Any], *, deps: NodeDeps) -> dict[str, Any]:
    plan = current_plan(state)
    if plan is None:
        return {}
    settings = deps.settings_of(state, runtime)
    run_id = state["run_id"]
    done = frozenset(i for i, r in (state.get("steps") or {}).items() if r.status == "done")
    request: dict[str, Any] = {
        "kind": "plan_approval",
        "run_id": run_id,
        "version": plan.version,
        "reasoning": plan.reasoning,
        "steps": [s.model_dump(mode="json") for s in plan.steps],
        "tools": list(deps.toolset.names),
        "error": "",
    }
    while True:
        raw = interrupt(request)
        try:
            decision = PlanDecision.model_validate(raw)
        except ValidationError as exc:
            request = {**request, "error": f"unreadable decision: {exc.errors()[0]['msg']}"}
            continue
        if decision.decision != "edit":
            break
        kept = tuple(s for s in plan.steps if s.id in done)
        new = [d for d in decision.steps if d.id not in done]
        remaining = settings.budgets.max_steps - executed_count(state)
        problem = check_plan(new, deps.toolset, max_steps=max(1, remaining), kept=done)
        if problem is None:
            edited = Plan(
                version=plan.version + 1,
                reasoning=plan.reasoning,
                steps=kept + to_plan_steps(new),
                reason="edited by a person",
                origin="edited",
            )
            edited = edited.model_copy(update={"diff": edited.diff_from(plan)})
            emit(
                runtime.stream_writer,
                ApprovalEvent(run_id=run_id, version=plan.version, decision="edit"),
            )
            emit(runtime.stream_writer, PlanEvent.of(run_id, edited))
            return {"plans": [edited], "feedback": ""}
        request = {**request, "error": f"the edited plan is invalid: {problem}"}
    emit(
        runtime.stream_writer,
        ApprovalEvent(
            run_id=run_id,
            version=plan.version,
            decision=decision.decision,
            feedback=decision.feedback,
        ),
    )
    if decision.decision == "reject":
        return {
            "feedback": decision.feedback.strip() or "the plan was rejected; try another approach"
        }
    return {"feedback": ""}
