"""Running plan steps: the one owner of the step pool (start, wait, cancel, resume).

Only this module touches `agent._internal.step_pool`; nodes go through it:

- **start**: `start_step`, called by the planner (steps whose inputs are known
  start while the plan still streams in) and the executor (every ready step,
  retries included). A step begun early is the same work the executor later
  waits for: same `StepKey`, no second tool call. It is also the one gate every
  start passes: a step whose tool needs a person's approval never starts before
  that approval is in the state, and no step starts once the step budget is spent.
- **wait**: `finished_steps`, called by the executor, waits for the first of
  its steps to finish and takes every finished one out of the pool.
- **cancel**: `cancel_steps`, called by the planner (steps a refused plan reply
  started, steps the final plan dropped or changed, everything when planning
  fails or a budget runs out), the executor (everything when wall time runs
  out) and the synthesizer (everything: nothing runs past the answer).
- **resume**: the pool lives in memory and no checkpoint holds it. A run
  resumed in the same process (after an approval pause) finds its running steps
  still in the pool and waits for them; a run resumed in a new process finds
  the pool empty, so a step that was running when the run stopped (it has no
  record) starts again, as the same attempt. Finished steps are never redone:
  their records are in the checkpoint.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import Field, JsonValue

from agent._internal.step_pool import StepKey, step_pool
from agent.budget import BudgetExhausted, BudgetGate
from agent.events import EventSink, StepStartedEvent, emit
from agent.models.structured import ReplySchema, call_structured
from agent.notes import NotesTaken, noteworthy, take_notes
from agent.observation import Observation, fence
from agent.placeholders import PlaceholderError, fill_placeholders
from agent.plan import PlanStep
from agent.plan_merge import step_signature
from agent.progress import depth_of, executed_count, fan_out_records, step_state
from agent.prompts import render_prompt
from agent.settings import DepthName, Settings
from agent.state import NodeUsage, ResearchState, StepRecord
from agent.toolset import Toolset

__all__ = [
    "StartBlock",
    "StepContext",
    "StepKey",
    "StepOutcome",
    "StepStart",
    "approval_key",
    "cancel_steps",
    "finished_steps",
    "launched_count",
    "needs_approval",
    "running_steps",
    "start_step",
    "step_key",
]

StartBlock = Literal["awaits_approval", "refused", "over_budget"]
"""Why a step was not started: no decision yet, a person said no, the step budget is spent."""


class Extraction(ReplySchema):
    """The exact value asked for, taken from the observation."""

    SCRIPT_KEY: ClassVar[str] = "Extraction"

    value: str = Field(description="just the value, no explanation")


@dataclass(frozen=True)
class StepOutcome:
    record: StepRecord
    usage: NodeUsage
    notes_usage: NodeUsage = field(default_factory=NodeUsage)


@dataclass(frozen=True)
class StepContext:
    """What a running step needs; captured when it starts."""

    run_id: str
    plan_version: int
    state: ResearchState
    toolset: Toolset
    model: BaseChatModel
    settings: Settings
    config: RunnableConfig | None
    sink: EventSink | None
    fast_model: BaseChatModel | None = None  # notes and extraction; None: ``model``
    depth: DepthName | None = None  # triage's depth while the plan carrying it streams in

    @property
    def fast(self) -> BaseChatModel:
        return self.fast_model or self.model


def step_key(run_id: str, step: PlanStep, attempt: int) -> StepKey:
    digest = hashlib.sha256(step_signature(step.tool, step.input).encode()).hexdigest()[:16]
    return StepKey(run_id=run_id, step_id=step.id, attempt=attempt, fingerprint=digest)


@dataclass(frozen=True)
class StepStart:
    """What asking to start a step did: ``blocked`` is None when it runs (or already ran)."""

    key: StepKey
    blocked: StartBlock | None = None


def approval_key(key: StepKey) -> str:
    """The name a person's decision on this exact attempt and input is stored under."""
    return f"{key.step_id}:{key.attempt}:{key.fingerprint}"


def needs_approval(settings: Settings, toolset: Toolset, tool: str) -> bool:
    return settings.approve_code and toolset.needs_approval(tool)


def launched_count(state: ResearchState, run_id: str) -> int:
    """Tool executions so far, counting the ones running now, for the step budget."""
    running = sum(
        1 for k in step_pool().keys(run_id) if step_state(state, k.step_id) in ("pending", "retry")
    )
    return executed_count(state) + running


def _blocked(ctx: StepContext, step: PlanStep, key: StepKey) -> StartBlock | None:
    if needs_approval(ctx.settings, ctx.toolset, step.tool):
        decided = (ctx.state.get("code_approvals") or {}).get(approval_key(key))
        if decided is None:
            return "awaits_approval"
        if not decided:
            return "refused"
    if key in step_pool():
        return None
    if launched_count(ctx.state, ctx.run_id) >= ctx.settings.budgets.max_steps:
        return "over_budget"
    return None


def start_step(ctx: StepContext, step: PlanStep, attempt: int) -> StepStart:
    """Start the step on the pool unless it is blocked (a no-op if this attempt already runs)."""
    key = step_key(ctx.run_id, step, attempt)
    blocked = _blocked(ctx, step, key)
    if blocked is not None:
        return StepStart(key, blocked)
    if step_pool().start(key, _run_step(ctx, step, attempt)):
        emit(
            ctx.sink,
            StepStartedEvent(
                run_id=ctx.run_id,
                step_id=step.id,
                tool=step.tool,
                goal=step.goal,
                input=step.input,
                attempt=attempt,
            ),
        )
    return StepStart(key)


def running_steps(run_id: str) -> list[StepKey]:
    """The run's steps in the pool: running, or finished and not yet taken out."""
    return step_pool().keys(run_id)


async def finished_steps(keys: Iterable[StepKey], timeout: float) -> list[StepOutcome]:
    """Wait until one of ``keys`` is done; take every finished one out of the pool."""
    pool = step_pool()
    done = await pool.wait_any(keys, timeout=timeout)
    outcomes: list[StepOutcome] = [pool.claim(key) for key in done]
    return outcomes


def cancel_steps(
    run_id: str, *, only: Iterable[StepKey] | None = None, keep: Iterable[StepKey] = ()
) -> int:
    """Cancel the run's steps (``only`` these, or all but ``keep``); returns how many."""
    pool = step_pool()
    if only is not None:
        return pool.cancel_keys(only)
    return pool.cancel(run_id, keep=keep)


async def _run_step(ctx: StepContext, step: PlanStep, attempt: int) -> StepOutcome:
    started = time.time()
    records = {**ctx.state.get("steps", {}), **fan_out_records(ctx.state)}
    previous = records.get(step.id)
    errors_before = previous.errors_before if previous else ()
    if previous is not None and previous.observation.error is not None:
        errors_before = (*errors_before, previous.observation.error.message)
    gate = BudgetGate(ctx.state, ctx.settings.budgets, node="executor")

    async def extract(obs: Observation, instruction: str) -> str:
        messages = render_prompt(
            "extract", instruction=instruction, observation=fence(obs, limit=6000)
        )
        reply = await call_structured(
            ctx.fast,
            messages,
            Extraction,
            gate=gate,
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
        return reply.value.value

    args: dict[str, JsonValue] = dict(step.input)
    try:
        filled = await fill_placeholders(step.input, records, extract)
        args = filled if isinstance(filled, dict) else args
        timeout = max(0.001, min(ctx.settings.budgets.step_timeout_s, gate.remaining_s()))
        obs = await ctx.toolset.run(
            step.tool,
            args,
            call_id=f"{ctx.run_id}:{step.id}:{attempt}",
            timeout_s=timeout,
            config=ctx.config,
            ref=f"{step.tool}:{step.id}",
        )
    except PlaceholderError as exc:
        obs = Observation.failure(step.tool, "invalid_input", str(exc))
    except BudgetExhausted as exc:
        obs = Observation.failure(step.tool, "refused", f"not run: {exc}")
    notes_gate = BudgetGate(ctx.state, ctx.settings.budgets, node="notes")
    notes = NotesTaken()
    depth = ctx.depth or depth_of(ctx.state, ctx.settings).name
    if noteworthy(obs) and ctx.settings.notes_on(depth):
        # Part of the step, so pages are noted while other steps still run.
        notes = await take_notes(
            ctx.fast,
            obs,
            task=ctx.state.get("task", ""),
            goal=step.goal,
            gate=notes_gate,
            retries=ctx.settings.output_retries,
            config=ctx.config,
        )
    record = StepRecord(
        step_id=step.id,
        plan_version=ctx.plan_version,
        attempt=attempt,
        tool=step.tool,
        input=args,
        status="done" if obs.ok else "failed",
        observation=obs,
        started_at=started,
        finished_at=time.time(),
        errors_before=errors_before,
        notes=notes.notes,
        notes_dropped=notes.dropped,
        notes_error=notes.error,
    )
    return StepOutcome(record=record, usage=gate.spent, notes_usage=notes_gate.spent)
