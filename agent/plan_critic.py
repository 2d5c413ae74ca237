"""Best-of-N plans: sample several first plans, and let a critic pick one before anything runs.

The cheaper cousin of ``--samples N``: N planning calls instead of N whole
paths. Each sampled plan sees the task with its own approach hint (the hints of
`graphs.sampled`, from ``agent/prompts/sample_path.yaml``); sampled plans never
start steps while they stream, so no tool runs for a plan that is not chosen.
A critic call (``PlanPick``, prompt ``plan_critic``) names the plan to run and
says why. A garbled or impossible pick falls back to the first valid plan, with
a note; a sample that stays invalid after its repairs is out of the running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from pydantic import Field, JsonValue

from agent.budget import BudgetExhausted
from agent.errors import ModelOutputError, PlanningError
from agent.models.structured import ReplySchema, call_structured
from agent.nodes._deps import NodeContext
from agent.plan import PlanChoice
from agent.plan_rules import Planning
from agent.prompts import render_prompt

__all__ = ["PlanPick", "best_of_plans", "sampled_task"]

_REASONING_SHOWN = 600


class PlanPick(ReplySchema):
    """The critic's pick among sampled plans."""

    SCRIPT_KEY: ClassVar[str] = "PlanPick"

    chosen: int = Field(description="the number of the plan to run")
    reasons: str = Field(default="", description="why this plan, and what the others lack")


def sampled_task(task: str, sample: int, samples: int) -> str:
    """The task as plan ``sample`` sees it: unchanged for 0, else with an approach hint."""
    return str(render_prompt("sample_path", task=task, path=sample, paths=samples)[1].content)


def _step_line(raw: object) -> str:
    if not isinstance(raw, dict):
        return str(raw)
    after = raw.get("depends_on") or raw.get("after") or []
    deps = f" after {', '.join(map(str, after))}" if after else ""
    tool_input = json.dumps(raw.get("input", {}), ensure_ascii=False)[:200]
    return f"{raw.get('id')} {raw.get('tool')}({tool_input}){deps}: {raw.get('goal', '')}"


def _summary(n: int, planning: Planning | None, error: str) -> dict[str, JsonValue]:
    if planning is None:
        return {"n": n, "steps": [], "reasoning": "", "error": error}
    if planning.mode == "direct":
        steps = [f"answer directly: {planning.answer.strip()[:200]}"]
    else:
        steps = [_step_line(s.model_dump(mode="json")) for s in planning.steps]
    reasoning = planning.reasoning.strip()[:_REASONING_SHOWN]
    return {"n": n, "steps": list(steps), "reasoning": reasoning, "error": error}


async def best_of_plans(
    ctx: NodeContext, samples: int, ask: Callable[[int], Awaitable[Planning]]
) -> tuple[Planning, PlanChoice]:
    """``samples`` plans from ``ask(i)`` (concurrently), then the critic's pick.

    Raises the first sample's `PlanningError` if no sample is valid, and
    `BudgetExhausted` if the budget ran out while sampling.
    """
    results = await asyncio.gather(*(ask(i) for i in range(samples)), return_exceptions=True)
    plans: list[Planning | None] = []
    errors: list[str] = []
    for result in results:
        if isinstance(result, BudgetExhausted):
            raise result
        if isinstance(result, PlanningError):
            plans.append(None)
            errors.append(str(result).splitlines()[0][:300])
        elif isinstance(result, BaseException):
            raise result
        else:
            plans.append(result)
            errors.append("")
    valid = [i for i, p in enumerate(plans) if p is not None]
    if not valid:
        raise next(r for r in results if isinstance(r, PlanningError))
    shown = [_summary(i + 1, p, e) for i, (p, e) in enumerate(zip(plans, errors, strict=True))]
    pick = await _critic(ctx, shown, valid)
    first = valid[0]
    if isinstance(pick, str):
        chosen, by, reasons = first, "fallback", f"{pick}; ran the first valid plan ({first + 1})"
    else:
        chosen, by, reasons = pick.chosen - 1, "critic", pick.reasons.strip()
    planning = plans[chosen]
    if planning is None:  # `_critic` only accepts valid numbers
        raise PlanningError("the critic picked an invalid plan")
    choice = PlanChoice(
        samples=samples, chosen=chosen + 1, by=by, reasons=reasons, candidates=tuple(shown)
    )
    return planning, choice


async def _critic(
    ctx: NodeContext, shown: Sequence[dict[str, JsonValue]], valid: Sequence[int]
) -> PlanPick | str:
    """The critic's reply, or a note saying why there is none (one valid plan, a bad reply)."""
    if len(valid) == 1:
        return "only one sampled plan was valid"
    numbers = {i + 1 for i in valid}

    def rules(pick: PlanPick) -> str | None:
        if pick.chosen in numbers:
            return None
        return f"chosen must be the number of a valid plan: one of {sorted(numbers)}"

    messages = render_prompt("plan_critic", task=ctx.state["task"], plans=list(shown))
    try:
        reply = await call_structured(
            ctx.model,
            messages,
            PlanPick,
            gate=ctx.gate,
            retries=ctx.settings.plan_retries,
            validate=rules,
            config=ctx.config,
        )
    except ModelOutputError as exc:
        return f"the critic's reply was unusable ({str(exc).splitlines()[0][:200]})"
    return reply.value
