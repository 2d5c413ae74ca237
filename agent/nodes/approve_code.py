"""Human approval before any code-running step, through LangGraph's ``interrupt()``.

Resume with ``{"decision": "approve"}`` or ``{"decision": "reject"}``; a refused
step fails with a ``refused`` observation that the reflector sees.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.dispatch import step_key
from agent.nodes._deps import NodeDeps
from agent.progress import current_plan, ready_steps
from agent.state import ResearchState

__all__ = ["approval_key", "approve_code"]


def approval_key(step_id: str, attempt: int, fingerprint: str) -> str:
    return f"{step_id}:{attempt}:{fingerprint}"


def approve_code(state: ResearchState, runtime: Runtime[Any], *, deps: NodeDeps) -> dict[str, Any]:
    plan = current_plan(state)
    decided = state.get("code_approvals") or {}
    approvals: dict[str, bool] = {}
    for step, attempt in ready_steps(state):
        if not deps.toolset.runs_code(step.tool):
            continue
        key = step_key(state["run_id"], step, attempt)
        name = approval_key(step.id, attempt, key.fingerprint)
        if name in decided:
            continue
        raw = interrupt(
            {
                "kind": "code_approval",
                "run_id": state["run_id"],
                "plan_version": plan.version if plan else 0,
                "step_id": step.id,
                "tool": step.tool,
                "goal": step.goal,
                "input": step.input,
            }
        )
        approvals[name] = isinstance(raw, dict) and raw.get("decision") == "approve"
    return {"code_approvals": approvals, "pending_approval": []}
