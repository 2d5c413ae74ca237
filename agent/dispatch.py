"""Starting plan steps: filling dependency placeholders, calling the tool, recording the result.

Both the planner (which starts steps while the plan is still streaming in) and
the executor start steps through `start_step`, so a step begun early is the same
work the executor later waits for: same `StepKey`, no second tool call.

`start_step` is also the one gate every start passes, whichever node asks
(early start, executor, retry, replan, resume): a step whose tool needs a
person's approval never starts before that approval is in the state, and no
step starts once the step budget is spent.

Dependency outputs reach a step through placeholders in its input:

- ``{{s1}}``: step s1's primary value (a search's top URL, a page's text,
  the code runner's stdout);
- ``{{s1.url}}``: a named field of s1's observation;
- ``{{s1 | the release year}}``: a small model call extracts exactly that
  from s1's observation (the LLMCompiler-style "fill by extraction" choice,
  used only when the step asks for it).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field, JsonValue

from agent._internal.step_pool import StepKey, step_pool
from agent.budget import BudgetExhausted, BudgetGate
from agent.events import EventSink, StepStartedEvent, emit
from agent.models.structured import call_structured
from agent.observation import Observation, fence
from agent.plan import PLACEHOLDER, PlanStep
from agent.plan_merge import step_signature
from agent.progress import executed_count, step_state
from agent.prompts import render_prompt
from agent.settings import Settings
from agent.state import NodeUsage, ResearchState, StepRecord
from agent.toolset import Toolset

__all__ = [
    "StartBlock",
    "StepContext",
    "StepOutcome",
    "StepStart",
    "approval_key",
    "fill_placeholders",
    "launched_count",
    "needs_approval",
    "start_step",
    "step_key",
]

StartBlock = Literal["awaits_approval", "refused", "over_budget"]
"""Why a step was not started: no decision yet, a person said no, the step budget is spent."""


class Extraction(BaseModel):
    """The exact value asked for, taken from the observation."""

    value: str = Field(description="just the value, no explanation")


@dataclass(frozen=True)
class StepOutcome:
    record: StepRecord
    usage: NodeUsage


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


class PlaceholderError(ValueError):
    pass


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


async def _run_step(ctx: StepContext, step: PlanStep, attempt: int) -> StepOutcome:
    started = time.time()
    records = ctx.state.get("steps", {})
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
            ctx.model,
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
    )
    return StepOutcome(record=record, usage=gate.spent)


async def fill_placeholders(
    value: JsonValue,
    records: Mapping[str, StepRecord],
    extract: Callable[[Observation, str], Awaitable[str]],
) -> JsonValue:
    """``value`` with every placeholder replaced by its dependency's output."""
    if isinstance(value, dict):
        return {k: await fill_placeholders(v, records, extract) for k, v in value.items()}
    if isinstance(value, list):
        return [await fill_placeholders(v, records, extract) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    parts: list[str] = []
    last = 0
    for m in PLACEHOLDER.finditer(value):
        parts.append(value[last : m.start()])
        parts.append(await _resolve(m, records, extract))
        last = m.end()
    parts.append(value[last:])
    return "".join(parts)


async def _resolve(
    m: re.Match[str],
    records: Mapping[str, StepRecord],
    extract: Callable[[Observation, str], Awaitable[str]],
) -> str:
    ref, field, instruction = m.group(1), m.group(2), (m.group(3) or "").strip()
    record = records.get(ref)
    if record is None or not record.ok:
        raise PlaceholderError(f"{m.group(0)} refers to step {ref}, which has no result")
    obs = record.observation
    if instruction:
        return await extract(obs, instruction)
    if field:
        if field not in obs.fields:
            known = ", ".join(sorted(obs.fields)) or "none"
            raise PlaceholderError(f"step {ref} has no field {field!r} (fields: {known})")
        return obs.fields[field]
    return obs.value or obs.content
