"""Model faults as data, each run through the real research graph; the suite counts survivals.

A fault is a list of replies for one role (planner, reflect, synthesizer or
the direct answer) that a scripted model gives before behaving, or instead of
behaving. Provider failures are the real SDK exceptions (``openai.RateLimitError``
built on an ``httpx2.Response``, which is what the openai SDK uses), so
`agent.models.failures` classifies them exactly as it would in production.

A fault is *survived* when the run either recovers (status ``done``, a cited
answer; ``unanswered`` when every citation the model wrote is refused) or ends
with the expected one-line `AgentRunError`, and in both cases
finishes within its wall-clock budget plus a generous margin (a liveness
bound, not a speed test). `run_model_fault_suite()` runs every case for the
reliability report.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
import openai
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.errors import AgentRunError
from agent.settings import Budgets, Settings
from agent.testing import Hang, ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis

__all__ = [
    "FAULTS",
    "GOOD_PLAN",
    "GOOD_SYNTHESIS",
    "FaultOutcome",
    "ModelFault",
    "api_timeout",
    "auth_error",
    "rate_limited",
    "run_fault",
    "run_model_fault_suite",
    "server_error",
]

Role = Literal["Planning", "Reflection", "Synthesis", "text"]
# stopped: a status and reason, no raise; unanswered: the run says it has no cited answer
Expect = Literal["recovered", "failed", "stopped", "unanswered"]

_URL = "https://api.openai.com/v1/chat/completions"
LIVENESS_MARGIN_S = 20.0
MAX_PROMPT_CHARS = 20_000


def _response(status: int, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", _URL), headers=headers)


def rate_limited(retry_after: str = "0.2") -> openai.RateLimitError:
    return openai.RateLimitError(
        "Error code: 429 - rate limit reached",
        response=_response(429, **{"retry-after": retry_after}),
        body=None,
    )


def server_error() -> openai.InternalServerError:
    return openai.InternalServerError(
        "Error code: 500 - internal error", response=_response(500), body=None
    )


def auth_error(key: str = "sk-test-not-a-real-key-0000") -> openai.AuthenticationError:
    return openai.AuthenticationError(
        f"Error code: 401 - Incorrect API key provided: {key}", response=_response(401), body=None
    )


def api_timeout() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=httpx2.Request("POST", _URL))


GOOD_PLAN = planning(step("s1", "alpha"), step("s2", "beta"))
FAILING_PLAN = planning(step("s1", "alpha"), step("s2", "broken"))
GOOD_SYNTHESIS = synthesis("s1.1", "s2.1")
FAILING_SYNTHESIS = synthesis("s1.1")
GOOD_JUDGEMENT = {
    "verdicts": [{"step_id": "s2", "verdict": "failed", "reason": "the backend failed"}],
    "decision": "finish",
    "reason": "s1 is enough",
}
REPLAN = {"reasoning": "try gamma instead", "keep": [], "steps": [step("s3", "gamma")]}
HUGE = "x" * 50_000


@dataclass(frozen=True)
class ModelFault:
    """Replies (built fresh per run) that one role gives; what the run must do about them."""

    name: str
    role: Role
    replies: Callable[[], list[Any]]
    expect: Expect
    error: str = ""  # a phrase the one-line error must hold, for expect="failed"
    budgets: dict[str, float] = field(default_factory=dict)


def _f(
    name: str,
    role: Role,
    replies: Callable[[], list[Any]],
    expect: Expect = "recovered",
    error: str = "",
    **budgets: float,
) -> ModelFault:
    return ModelFault(name, role, replies, expect, error, budgets)


FAULTS: tuple[ModelFault, ...] = (
    # The planner: repaired by re-asking with the exact problem.
    _f("plan_text_not_json", "Planning", lambda: ["{not json, just words", GOOD_PLAN]),
    _f("plan_schema_invalid", "Planning", lambda: [{"reasoning": 5, "steps": "x"}, GOOD_PLAN]),
    _f("plan_empty_reply", "Planning", lambda: ["", GOOD_PLAN]),
    _f("plan_empty_object", "Planning", lambda: [{}, GOOD_PLAN]),
    _f("plan_50k_reply", "Planning", lambda: [HUGE, GOOD_PLAN]),
    _f(
        "plan_50k_reasoning",
        "Planning",
        lambda: [{**GOOD_PLAN, "steps": [], "reasoning": HUGE}, GOOD_PLAN],
    ),
    _f(
        "plan_unknown_tool",
        "Planning",
        lambda: [planning(step("s1", "alpha", tool="delete_everything")), GOOD_PLAN],
    ),
    _f(
        "plan_cycle",
        "Planning",
        lambda: [planning(step("s1", "a", ("s2",)), step("s2", "b", ("s1",))), GOOD_PLAN],
    ),
    _f("plan_dangling_dep", "Planning", lambda: [planning(step("s1", "a", ("s9",))), GOOD_PLAN]),
    _f(
        "plan_duplicate_ids",
        "Planning",
        lambda: [planning(step("s1", "a"), step("s1", "b")), GOOD_PLAN],
    ),
    _f(
        "plan_too_many_steps",
        "Planning",
        lambda: [
            planning(*(step(f"s{i}", f"q{i}") for i in range(1, 30))),
            GOOD_PLAN,
        ],
    ),
    _f(
        "plan_always_invalid",
        "Planning",
        lambda: [planning(step("s1", "a", ("s1",)))] * 3,
        "failed",
        "Planning was still invalid after 3 tries",
    ),
    _f("plan_429_then_ok", "Planning", lambda: [rate_limited(), GOOD_PLAN]),
    _f("plan_500_then_ok", "Planning", lambda: [server_error(), GOOD_PLAN]),
    _f("plan_sdk_timeout_then_ok", "Planning", lambda: [api_timeout(), GOOD_PLAN]),
    _f("plan_connection_reset_then_ok", "Planning", lambda: [ConnectionResetError(), GOOD_PLAN]),
    _f(
        "plan_500_persistent",
        "Planning",
        lambda: [server_error()] * 3,
        "failed",
        "model call failed (server_error)",
    ),
    _f("plan_401", "Planning", lambda: [auth_error()], "failed", "model call failed (auth)"),
    _f("plan_hang_then_ok", "Planning", lambda: [Hang(), GOOD_PLAN], model_timeout_s=1.0),
    _f(
        "plan_hang_forever",
        "Planning",
        lambda: [Hang()] * 3,
        "failed",
        "did not reply within",
        model_timeout_s=1.0,
    ),
    _f(
        "plan_hang_past_wall_budget",
        "Planning",
        lambda: [Hang()] * 3,
        "failed",
        "did not reply within",
        timeout_s=2.0,
    ),
    # The reflection (asked because s2 fails): carries on by rule when it cannot judge.
    _f("judge_text_not_json", "Reflection", lambda: ["no idea"] * 3),
    _f(
        "judge_nonsense_ids",
        "Reflection",
        lambda: [
            {
                "verdicts": [{"step_id": "s99", "verdict": "ok"}],
                "decision": "retry",
                "retry": ["s42"],
                "reason": "?",
            }
        ],
    ),
    _f("judge_429_then_ok", "Reflection", lambda: [rate_limited(), GOOD_JUDGEMENT]),
    _f(
        "judge_500_persistent",
        "Reflection",
        lambda: [server_error()] * 3,
        "failed",
        "model call failed (server_error)",
    ),
    _f(
        "judge_hang_forever",
        "Reflection",
        lambda: [Hang()] * 3,
        "failed",
        "did not reply within",
        model_timeout_s=1.0,
    ),
    # The synthesizer: an unusable synthesis becomes an extractive cited answer.
    _f("synth_text_not_json", "Synthesis", lambda: ["just prose"] * 3),
    _f("synth_50k_reply", "Synthesis", lambda: [HUGE, GOOD_SYNTHESIS]),
    _f(
        "synth_nonsense_cites",
        "Synthesis",
        lambda: [{"claims": [{"text": "Made up.", "cites": ["s9.9"]}], "gaps": []}],
        "unanswered",
    ),
    _f("synth_429_then_ok", "Synthesis", lambda: [rate_limited(), GOOD_SYNTHESIS]),
    _f("synth_hang_then_ok", "Synthesis", lambda: [Hang(), GOOD_SYNTHESIS], model_timeout_s=1.0),
    _f(
        "synth_500_persistent",
        "Synthesis",
        lambda: [server_error()] * 3,
        "failed",
        "model call failed (server_error)",
    ),
    # The direct answer of a trivial task.
    _f("direct_429_then_ok", "text", lambda: [rate_limited(), "Hello!"]),
    _f("direct_empty_reply", "text", lambda: ["", "Hello!"]),
    _f("direct_empty_always", "text", lambda: ["", ""], "stopped", "the reply was empty"),
    _f(
        "direct_hang_forever",
        "text",
        lambda: [Hang()] * 3,
        "failed",
        "did not reply within",
        model_timeout_s=1.0,
    ),
)


def _script(fault: ModelFault) -> dict[str, list[Any]]:
    faulty = fault.replies()
    if fault.role == "text":
        return {"text": faulty}
    if fault.role == "Reflection":
        return {
            "Planning": [FAILING_PLAN],
            "Reflection": faulty,
            "Replanning": [REPLAN],
            "Synthesis": [FAILING_SYNTHESIS],
        }
    if fault.role == "Synthesis":
        return {"Planning": [GOOD_PLAN], "Synthesis": faulty}
    return {"Planning": faulty, "Synthesis": [GOOD_SYNTHESIS]}


@dataclass(frozen=True)
class FaultOutcome:
    name: str
    survived: bool
    status: str
    error: str
    wall_s: float
    model_calls: int
    problems: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()


def _budgets(fault: ModelFault) -> Budgets:
    return Budgets(**{"timeout_s": 30.0, "model_timeout_s": 10.0, **fault.budgets})


async def run_fault(fault: ModelFault) -> FaultOutcome:
    """Run `fault` through the research graph with a recording tool (``broken`` fails)."""
    model = ScriptedChatModel(script=_script(fault))
    tool, _log = recording_tool(fail={"broken"})
    budgets = _budgets(fault)
    graph = build_research_graph(
        model,
        [tool],
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        settings=Settings(budgets=budgets),
    )
    task = "hello" if fault.role == "text" else "What are the facts about alpha and beta?"
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    bound = budgets.timeout_s + LIVENESS_MARGIN_S
    started = time.monotonic()
    state: dict[str, Any] = {}
    error = ""
    try:
        state = await asyncio.wait_for(graph.ainvoke({"task": task}, config), bound)
    except AgentRunError as exc:
        error = str(exc)
    except TimeoutError:
        error = f"LIVENESS: still running after {bound:.0f}s"
    wall = time.monotonic() - started
    status = state.get("status", "failed") if state else "failed"
    problems = _judge(fault, state, error, wall, bound)
    longest = max((len(c.prompt) for c in model.calls), default=0)
    if longest > MAX_PROMPT_CHARS:  # a huge bad reply must not be fed back whole
        problems.append(f"a prompt grew to {longest} characters")
    return FaultOutcome(
        name=fault.name,
        survived=not problems,
        status=status,
        error=error,
        wall_s=round(wall, 2),
        model_calls=len(model.calls),
        problems=tuple(problems),
        prompts=tuple(c.prompt for c in model.calls),
    )


def _judge(
    fault: ModelFault, state: dict[str, Any], error: str, wall: float, bound: float
) -> list[str]:
    problems = []
    if wall > bound:
        problems.append(f"took {wall:.1f}s, past the {bound:.0f}s liveness bound")
    if fault.expect == "failed":
        if not error:
            problems.append(f"expected a run error, got status {state.get('status')!r}")
        elif fault.error not in error:
            problems.append(f"error {error!r} lacks {fault.error!r}")
        if "\n" in error or "Traceback" in error:
            problems.append("the error is not one line")
        return problems
    if error:
        return [*problems, f"expected {fault.expect}, got error {error!r}"]
    if fault.expect == "stopped":
        if state.get("status") not in ("failed", "budget_exhausted"):
            problems.append(f"status {state.get('status')!r}, expected a stop")
        if fault.error not in state.get("stop_reason", ""):
            problems.append(f"stop reason {state.get('stop_reason')!r} lacks {fault.error!r}")
        return problems
    answer = state.get("answer")
    if fault.expect == "unanswered":
        # Every citation was refused: the run says it has no cited answer.
        if state.get("status") != "unanswered":
            problems.append(f"status {state.get('status')!r}, expected unanswered")
        if answer is None or answer.citations or not answer.rejected:
            problems.append("the answer does not report its refused citations")
        return problems
    if state.get("status") != "done":
        problems.append(f"status {state.get('status')!r}, not done")
    if answer is None or not answer.markdown.strip():
        problems.append("no answer")
    elif fault.role != "text" and not (answer.citations or answer.rejected):
        problems.append("the answer neither cites nor reports rejected citations")
    elif "budget ran out" in answer.markdown:
        problems.append(f"the answer blames a budget that did not run out: {answer.markdown!r}")
    return problems


def run_model_fault_suite(faults: tuple[ModelFault, ...] = FAULTS) -> dict[str, Any]:
    """Every model fault through the graph: ``{"injected", "survived", "failures"}``."""

    async def run_all() -> list[FaultOutcome]:
        return [await run_fault(f) for f in faults]

    outcomes = asyncio.run(run_all())
    return {
        "injected": len(outcomes),
        "survived": sum(o.survived for o in outcomes),
        "failures": {o.name: list(o.problems) for o in outcomes if not o.survived},
    }
