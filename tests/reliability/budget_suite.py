"""Budgets against runs that would never end, as data; the suite counts the budgets held.

Each `BudgetCase` runs the real research graph with a scripted model and a
recording tool under one tight budget (the others generous). In most cases the
model would go on for ever: the reflection always asks for a replan and the
replanner always adds a fresh step (`looping_model`), so only a limit stops the
run, and each case's budget binds before the depth's own cap of three replans
does. The other cases have a step that hangs, or that times out and would be
retried. A budget is *respected* when the run

- stops with status ``budget_exhausted`` and names that budget in its stop reason;
- spends at most the budget, or one model call past it (tokens can only be
  counted after the call that spends them; every other budget is checked before);
- still answers: a partial answer citing the evidence it had (``lookup:s1``).

`run_budget_suite()` runs every case for the reliability report;
``tests/agent/test_budgets.py`` runs each as a test.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from agent.budget import BudgetName
from agent.testing import ScriptedChatModel
from tests.agent.graph_run import run_research, settings
from tests.conftest import ToolLog, planning, recording_tool, step, synthesis

SLOW_STEPS = {f"more{n}": 0.8 for n in range(10, 200)}
"""Delays that make every step the endless replanner adds take a while."""


def endless_replanner(query: str = "more") -> Callable[[list[Any]], dict[str, Any]]:
    """A replanner that always proposes a fresh step (so only budgets can stop it).

    ``query="broken"`` proposes the same failing lookup every time instead.
    """
    ids = itertools.count(10)

    def reply(messages: list[Any]) -> dict[str, Any]:
        n = next(ids)
        q = query if query == "broken" else f"{query}{n}"
        return {"reasoning": "try again", "keep": [], "steps": [step(f"s{n}", q)]}

    return reply


def looping_model(**extra: Any) -> ScriptedChatModel:
    """Plans a good and a broken lookup, then asks for a replan after every reflection."""
    return ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "broken"), depth="high")],
            "Reflection": [{"verdicts": [], "decision": "replan", "reason": "still missing"}],
            "Replanning": [endless_replanner()],
            "Synthesis": [synthesis("s1.1")],
            **extra,
        },
    )


def _hanging_step_model() -> ScriptedChatModel:
    return ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "good"), step("s2", "slow"))],
            "Synthesis": [synthesis("s1.1")],
        }
    )


class CallTokens(BaseCallbackHandler):
    """The tokens of each model call, in the order the calls ended."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        message = getattr(response.generations[0][0], "message", None)
        usage = getattr(message, "usage_metadata", None) or {}
        self.calls.append(int(usage.get("total_tokens", 0)))


@dataclass
class BudgetRun:
    """What one run spent, for the case's own check."""

    state: dict[str, Any]
    model: ScriptedChatModel
    log: ToolLog
    tokens: CallTokens
    limits: dict[str, float]
    elapsed_s: float

    @property
    def steps_run(self) -> int:
        records = self.state.get("steps", {}).values()
        return sum(r.attempt for r in records if r.status != "skipped")


@dataclass(frozen=True)
class BudgetCase:
    name: str
    budget: BudgetName
    limits: dict[str, float]  # `Budgets` fields (and `Settings` ones, such as step_timeout_s)
    model: Callable[[], ScriptedChatModel] = looping_model
    tool: dict[str, Any] = field(default_factory=lambda: {"fail": {"broken"}})
    within: Callable[[BudgetRun], list[str]] = lambda run: []


@dataclass(frozen=True)
class BudgetOutcome:
    name: str
    respected: bool
    problems: tuple[str, ...]
    spent: str
    wall_s: float


def _steps(run: BudgetRun) -> list[str]:
    cap = run.limits["max_steps"]
    return [f"{run.steps_run} step executions, budget {cap}"] if run.steps_run > cap else []


def _retried_steps(run: BudgetRun) -> list[str]:
    reflections = run.state.get("reflections") or []
    if not reflections or reflections[0].decision != "retry":
        return ["the timed-out step was never judged worth a retry"]
    return _steps(run)


def _replans(run: BudgetRun) -> list[str]:
    made, cap = len(run.model.calls_for("Replanning")), run.limits["max_replans"]
    return [f"{made} replans, budget {cap}"] if made > cap else []


def _model_calls(run: BudgetRun) -> list[str]:
    made, cap = len(run.model.calls), run.limits["max_model_calls"]
    return [f"{made} model calls, budget {cap}"] if made > cap else []


def _tokens(run: BudgetRun) -> list[str]:
    calls, cap = run.tokens.calls, run.limits["max_tokens"]
    problems = []
    if sum(calls) != run.state["usage"].tokens:
        problems.append(f"usage says {run.state['usage'].tokens} tokens, the calls {sum(calls)}")
    if calls and sum(calls[:-1]) >= cap:
        problems.append(f"{sum(calls[:-1])} tokens before the last call, budget {cap}")
    return problems


def _wall_time(run: BudgetRun, margin_s: float = 4.0) -> list[str]:
    cap = run.limits["timeout_s"]
    spent = max(run.elapsed_s, run.state["usage"].wall_s)
    return (
        [f"ran {spent:.1f}s, budget {cap}s (+{margin_s}s margin)"] if spent > cap + margin_s else []
    )


BUDGET_CASES: tuple[BudgetCase, ...] = (
    BudgetCase("steps", "steps", {"max_steps": 3, "max_replans": 50, "max_model_calls": 100},
               within=_steps),
    # The plan fits the budget, but a retry of the timed-out step would be a third execution.
    BudgetCase("steps_by_retry", "steps", {"max_steps": 2, "step_timeout_s": 0.2},
               model=_hanging_step_model, tool={"delays": {"slow": 5.0}}, within=_retried_steps),
    BudgetCase("replans", "replans", {"max_replans": 2, "max_model_calls": 100},
               within=_replans),
    BudgetCase("model_calls", "model_calls", {"max_model_calls": 4, "max_replans": 50},
               within=_model_calls),
    BudgetCase("tokens", "tokens",
               {"max_tokens": 2500, "max_replans": 50, "max_model_calls": 100}, within=_tokens),
    # A step that hangs far past the run's time.
    BudgetCase("wall_time", "wall_time", {"timeout_s": 1.0, "step_timeout_s": 60},
               model=_hanging_step_model, tool={"delays": {"slow": 30.0}}, within=_wall_time),
    # Replans whose steps each take 0.8 s: time runs out while the third one's step runs.
    BudgetCase("wall_time_looping", "wall_time",
               {"timeout_s": 2.0, "max_replans": 200, "max_model_calls": 400},
               tool={"fail": {"broken"}, "delays": SLOW_STEPS}, within=_wall_time),
)  # fmt: skip


def partial_answer_problems(state: dict[str, Any], budget: BudgetName) -> list[str]:
    """Why the run did not end as a budget should end it, if it did not."""
    problems = []
    if state.get("status") != "budget_exhausted":
        problems.append(f"status {state.get('status')!r}, not 'budget_exhausted'")
    if f"{budget} budget" not in (state.get("stop_reason") or ""):
        problems.append(f"stop reason {state.get('stop_reason')!r} does not name {budget}")
    answer = state.get("answer")
    if answer is None:
        problems.append("no answer")
    elif "Partial answer" not in answer.markdown:
        problems.append("the answer does not say it is partial")
    elif not answer.citations or answer.citations[0].source != "lookup:s1":
        problems.append("the partial answer does not cite the evidence it had (lookup:s1)")
    return problems


def run_budget_case(case: BudgetCase) -> BudgetOutcome:
    tokens = CallTokens()
    model = case.model()
    model.callbacks = [tokens]
    tool, log = recording_tool(**case.tool)
    started = time.monotonic()
    state, _events = run_research(model, [tool], config=settings(**case.limits))
    run = BudgetRun(dict(state), model, log, tokens, case.limits, time.monotonic() - started)
    problems = partial_answer_problems(run.state, case.budget) + case.within(run)
    usage = run.state.get("usage")
    spent = (
        f"{run.steps_run} steps, {len(model.calls_for('Replanning'))} replans, "
        f"{len(model.calls)} model calls, {usage.tokens if usage else 0} tokens, "
        f"{run.elapsed_s:.1f}s"
    )
    return BudgetOutcome(case.name, not problems, tuple(problems), spent, round(run.elapsed_s, 2))


def run_budget_suite(cases: tuple[BudgetCase, ...] = BUDGET_CASES) -> dict[str, Any]:
    """Every budget case: ``{"tested", "respected", "failures", "spent"}``."""
    outcomes = [run_budget_case(c) for c in cases]
    return {
        "tested": len(outcomes),
        "respected": sum(o.respected for o in outcomes),
        "failures": {o.name: list(o.problems) for o in outcomes if not o.respected},
        "spent": {o.name: o.spent for o in outcomes},
    }
