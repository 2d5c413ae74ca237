"""Executor: start every step whose dependencies are done; return when any step finishes.

Greedy dispatch instead of LangGraph ``Send`` waves: a superstep is a barrier,
so waves would make a slow step hold back the dependents of a fast one. Here
each executor superstep starts all ready steps on the step pool, waits for the
*first* to finish, and returns every finished one, which LangGraph checkpoints
at once (a resumed run never redoes a finished step). Steps still running stay
in the pool for the next superstep, or keep going during the reflection.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.dispatch import (
    approval_key,
    cancel_steps,
    finished_steps,
    start_step,
)
from agent.events import StepFinishedEvent, emit
from agent.nodes._deps import NodeDeps
from agent.observation import Observation
from agent.plan import PlanStep
from agent.progress import (
    blocked_steps,
    broken_fan_outs,
    current_plan,
    next_attempt,
    ready_steps,
)
from agent.run_end import WALL_TIME_SPENT, budget_exhausted, steps_spent
from agent.state import NodeUsage, ResearchState, StepRecord
from agent.step_views import record_digest

__all__ = ["execute"]


async def execute(
    state: ResearchState, runtime: Runtime[Any], config: RunnableConfig, *, deps: NodeDeps
) -> dict[str, Any]:
    node = deps.context(state, runtime, config, node="executor")
    settings, gate, run_id, sink = node.settings, node.gate, node.run_id, node.sink
    plan = current_plan(state)
    if plan is None:
        return {}
    finished: dict[str, StepRecord] = {}

    for step, dep in blocked_steps(state):
        record = StepRecord(
            step_id=step.id,
            plan_version=plan.version,
            tool=step.tool,
            input=step.input,
            status="skipped",
            observation=Observation.failure(step.tool, "refused", f"not run: {dep} failed"),
            started_at=time.time(),
            finished_at=time.time(),
        )
        finished[step.id] = record
        _emit_finished(sink, run_id, record)
    for step, problem in broken_fan_outs(state):
        now = time.time()
        record = StepRecord(
            step_id=step.id,
            plan_version=plan.version,
            attempt=next_attempt(state, step.id),
            tool=step.tool,
            input=step.input,
            status="failed",
            observation=Observation.failure(step.tool, "invalid_input", problem),
            started_at=now,
            finished_at=now,
        )
        finished[step.id] = record
        _emit_finished(sink, run_id, record)
    if finished:
        return {"steps": finished}

    if gate.remaining_s() <= 0:
        cancel_steps(run_id)
        return budget_exhausted(WALL_TIME_SPENT, gate.usage_update())

    ctx = node.step_context(plan.version)
    pending: list[str] = []
    wanted = []
    over_budget = False
    for step, attempt in ready_steps(state):
        started = start_step(ctx, step, attempt)
        if started.blocked == "awaits_approval":
            pending.append(approval_key(started.key))
        elif started.blocked == "refused":
            finished[step.id] = _refused(step, attempt, plan.version)
            _emit_finished(sink, run_id, finished[step.id])
        elif started.blocked == "over_budget":
            over_budget = True
        else:
            wanted.append(started.key)

    if pending or (finished and not wanted):
        return {"steps": finished, "pending_approval": pending, "usage": gate.usage_update()}
    if not wanted:
        if over_budget:
            return budget_exhausted(steps_spent(settings.budgets.max_steps), gate.usage_update())
        return {"usage": gate.usage_update()}

    done = await finished_steps(wanted, timeout=max(0.001, gate.remaining_s()))
    usage = NodeUsage()
    notes_usage = NodeUsage()
    for outcome in done:
        finished[outcome.record.step_id] = outcome.record
        usage = usage + outcome.usage
        notes_usage = notes_usage + outcome.notes_usage
        _emit_finished(sink, run_id, outcome.record)
    spent = gate.usage_update(tool_calls=len(done))
    by_node = {"executor": usage, "notes": notes_usage}
    by_node = {name: used for name, used in by_node.items() if used.model_calls}
    if by_node:
        spent = spent.model_copy(update={"by_node": by_node})
    if not done:
        cancel_steps(run_id)
        return {"steps": finished, **budget_exhausted(WALL_TIME_SPENT, spent)}
    return {"steps": finished, "usage": spent}


def _refused(step: PlanStep, attempt: int, version: int) -> StepRecord:
    now = time.time()
    return StepRecord(
        step_id=step.id,
        plan_version=version,
        attempt=attempt,
        tool=step.tool,
        input=step.input,
        status="failed",
        started_at=now,
        finished_at=now,
        observation=Observation.failure(step.tool, "refused", "a person refused to run this code"),
    )


def _emit_finished(sink: Any, run_id: str, record: StepRecord) -> None:
    error = record.observation.error
    emit(
        sink,
        StepFinishedEvent(
            run_id=run_id,
            step_id=record.step_id,
            tool=record.tool,
            status=record.status,
            summary=record_digest(record, limit=160),
            duration_s=round(record.duration_s, 3),
            attempt=record.attempt,
            via=record.observation.via,
            error_kind=error.kind if error else "",
            notes=len(record.notes),
        ),
    )
