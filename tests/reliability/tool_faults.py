"""Tool faults as data, each run through the real research graph; the suite counts survivals.

Each fault is a tool named ``flaky`` that misbehaves in one way (raises, hangs
in async code, blocks a thread forever, floods its output, returns bytes that
are not UTF-8 or objects that are not text), planned beside a healthy step.
A fault is survived when the run still ends ``done`` with a cited answer from
the healthy step, the faulty step is recorded as failed with an error kind (or
done with its output capped), its record fits in a checkpoint, and the run
ends within its wall-clock budget plus a generous margin.

The browser crash (Chromium killed mid-step) needs real Chromium and a page
server, so it lives in `browser_crash_outcome`, used by the tests and the report.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.observation import Observation
from agent.settings import Budgets, Settings
from agent.testing import ScriptedChatModel
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis
from tools._base import ObservingTool

__all__ = [
    "TOOL_FAULTS",
    "ToolFault",
    "ToolOutcome",
    "blocking_tool",
    "browser_crash_outcome",
    "run_tool_fault",
    "run_tool_fault_suite",
]

STEP_TIMEOUT_S = 1.0
MARGIN_S = 20.0
MAX_RECORD_CHARS = 1_000_000  # a step record must stay checkpoint-sized whatever the tool did


def _sync(fn: Callable[[str], Any]) -> BaseTool:
    return StructuredTool.from_function(func=fn, name="flaky", description="flaky: look up a fact")


def _async(fn: Callable[[str], Any]) -> BaseTool:
    return StructuredTool.from_function(
        coroutine=fn, name="flaky", description="flaky: look up a fact"
    )


def _raises(query: str) -> str:
    raise RuntimeError(f"the backend exploded on {query!r}")


async def _araises(query: str) -> str:
    raise ConnectionError("connection reset by peer")


async def _ahangs(query: str) -> str:
    await asyncio.Event().wait()
    return "never"


def blocking_tool(release: threading.Event | None = None) -> BaseTool:
    """A sync tool that blocks its thread until `release` is set (forever by default)."""
    gate = release or threading.Event()

    def block(query: str) -> str:
        gate.wait()
        return "released"

    return _sync(block)


def _sleeps_sync(query: str) -> str:
    time.sleep(3 * STEP_TIMEOUT_S)  # past the step timeout, then returns
    return "too late"


def _floods(query: str) -> str:
    return "A" * 10_000_000


def _floods_lines(query: str) -> str:
    return "line of output\n" * 700_000


def _bytes(query: str) -> bytes:
    return b"\xff\xfe\xfa not utf-8 \x80\x81\xc3\x28 " * 1000


def _odd_objects(query: str) -> Any:
    return {"set": {1, 2}, "bytes": b"\xff", "obj": object(), "nested": [[[[None]]]]}


def _nul_and_controls(query: str) -> str:
    return "text\x00with\x1bNUL\x07and controls\ud800lone surrogate"


class _BuggyObservingTool(ObservingTool):
    """A Ponder-style tool that breaks its contract and raises from `observe`."""

    name: str = "flaky"
    description: str = "flaky: look up a fact"

    async def observe(self, **kwargs: Any) -> Observation:
        raise KeyError("a framework bug inside the tool")


class _HugeObservation(ObservingTool):
    """A Ponder-style tool whose observation is far too large everywhere."""

    name: str = "flaky"
    description: str = "flaky: look up a fact"

    async def observe(self, **kwargs: Any) -> Observation:
        text = "B" * 5_000_000
        return Observation(
            tool=self.name,
            ok=True,
            content=text,
            value=text,
            documents={"doc": text},
            untrusted=True,
        )


@dataclass(frozen=True)
class ToolFault:
    name: str
    tool: Callable[[], BaseTool]
    outcome: str  # "failed" (with an error kind) or "capped" (done, output truncated) or "done"
    error_kind: str = ""


TOOL_FAULTS: tuple[ToolFault, ...] = (
    ToolFault("raises", lambda: _sync(_raises), "failed", "error"),
    ToolFault("raises_async", lambda: _async(_araises), "failed", "error"),
    ToolFault("observe_raises", _BuggyObservingTool, "failed", "error"),
    ToolFault("hangs_async", lambda: _async(_ahangs), "failed", "timeout"),
    ToolFault("blocks_thread_forever", blocking_tool, "failed", "timeout"),
    ToolFault("sleeps_past_timeout", lambda: _sync(_sleeps_sync), "failed", "timeout"),
    ToolFault("returns_10_mb", lambda: _sync(_floods), "capped"),
    ToolFault("returns_700k_lines", lambda: _sync(_floods_lines), "capped"),
    ToolFault("observation_5_mb", _HugeObservation, "capped"),
    ToolFault("returns_non_utf8_bytes", lambda: _sync(_bytes), "done"),
    ToolFault("returns_odd_objects", lambda: _sync(_odd_objects), "done"),
    ToolFault("returns_nul_controls_surrogate", lambda: _sync(_nul_and_controls), "done"),
)


@dataclass(frozen=True)
class ToolOutcome:
    name: str
    survived: bool
    wall_s: float
    problems: tuple[str, ...]


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(
        script={
            "Planning": [planning(step("s1", "alpha"), step("s2", "beta", tool="flaky"))],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "s1 is enough"}],
            "Synthesis": [synthesis("s1.1")],
        }
    )


# Claims the two pages state, quoted from them, so the citation check keeps both.
BROWSED = {
    "claims": [
        {
            "text": "The lighthouse at Kerrow Point was first lit in 1871.",
            "cites": ["s1.1"],
            "quote": "first lit on 4 March 1871",
        },
        {"text": "It is finally here.", "cites": ["s2.1"], "quote": "Finally here."},
    ],
    "gaps": [],
}


async def run_tool_fault(fault: ToolFault) -> ToolOutcome:
    healthy, _ = recording_tool()
    saver = InMemorySaver(serde=checkpoint_serde())
    budgets = Budgets(timeout_s=30.0, step_timeout_s=STEP_TIMEOUT_S)
    graph = build_research_graph(
        _model(), [healthy, fault.tool()], checkpointer=saver, settings=Settings(budgets=budgets)
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    bound = budgets.timeout_s + MARGIN_S
    started = time.monotonic()
    problems: list[str] = []
    try:
        await asyncio.wait_for(graph.ainvoke({"task": "alpha and beta?"}, config), bound)
    except TimeoutError:
        return ToolOutcome(fault.name, False, bound, (f"LIVENESS: still running after {bound}s",))
    wall = time.monotonic() - started
    state = (await graph.aget_state(config)).values  # the whole state, as checkpointed
    if state.get("status") != "done" or state.get("answer") is None:
        problems.append(f"run ended {state.get('status')!r}: {state.get('stop_reason')}")
    elif not state["answer"].citations:
        problems.append("the answer lost the healthy step's citation")
    record = (state.get("steps") or {}).get("s2")
    if record is None:
        problems.append("the faulty step left no record")
    else:
        problems += _judge_record(fault, record)
    # The record was read back from the checkpoint: it must be the typed record, intact.
    if record is not None and record.observation.tool != "flaky":
        problems.append("the faulty step's record did not survive the checkpoint round trip")
    return ToolOutcome(fault.name, not problems, round(wall, 2), tuple(problems))


def _judge_record(fault: ToolFault, record: Any) -> list[str]:
    obs = record.observation
    size = len(record.model_dump_json())
    problems = []
    if size > MAX_RECORD_CHARS:
        problems.append(f"the step record is {size} characters")
    if fault.outcome == "failed":
        if record.status != "failed" or obs.error is None:
            problems.append(f"step status {record.status}, expected failed")
        elif obs.error.kind != fault.error_kind:
            problems.append(f"error kind {obs.error.kind}, expected {fault.error_kind}")
    elif fault.outcome == "capped":
        if record.status != "done" or not obs.truncated:
            problems.append(f"step {record.status}, truncated={obs.truncated}; expected capped")
    elif record.status != "done":
        problems.append(f"step status {record.status}, expected done")
    try:
        obs.content.encode("utf-8")
    except UnicodeEncodeError:
        problems.append("the observation holds text that is not valid UTF-8")
    return problems


def run_tool_fault_suite(faults: tuple[ToolFault, ...] = TOOL_FAULTS) -> dict[str, Any]:
    """Every tool fault, plus the browser crash when Chromium is here."""

    async def run_all() -> list[ToolOutcome]:
        return [await run_tool_fault(f) for f in faults]

    outcomes = asyncio.run(run_all())
    crash = browser_crash_outcome()
    if crash is not None:
        outcomes.append(crash)
    return {
        "injected": len(outcomes),
        "survived": sum(o.survived for o in outcomes),
        "failures": {o.name: list(o.problems) for o in outcomes if not o.survived},
    }


# -- Chromium killed mid-step ---------------------------------------------------------


def chromium_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and f"--ponder-test={marker}" in cmdline:
            found.append(proc)
    return found


async def _crash_run(marker: str) -> tuple[dict[str, Any], int, int, list[str]]:
    """Plan two page reads; kill Chromium while the second loads; let the run finish."""
    from agent._internal.io_loop import io_loop
    from bench.site_server import TEST_BROWSER, SiteServer
    from tools.browser import BrowserPool, BrowserTool

    site = SiteServer()
    pool = BrowserPool(TEST_BROWSER.model_copy(update={"extra_args": (f"--ponder-test={marker}",)}))
    tool = BrowserTool(policy=site.policy, pool=pool)
    slow = site.url(f"/slow?s=2&k={marker}")
    browse = [
        {"id": "s1", "goal": "read the article", "tool": "browser",
         "input": {"action": "open", "url": site.url("/article.html")}, "depends_on": []},
        {"id": "s2", "goal": "read the slow page", "tool": "browser",
         "input": {"action": "open", "url": slow}, "depends_on": ["s1"]},
    ]  # fmt: skip
    model = ScriptedChatModel(script={"Planning": [planning(*browse)], "Synthesis": [BROWSED]})
    graph = build_research_graph(
        model,
        [tool],
        checkpointer=InMemorySaver(serde=checkpoint_serde()),
        settings=Settings(budgets=Budgets(timeout_s=90, step_timeout_s=30)),
    )
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    killed: list[str] = []

    async def kill_when_loading() -> None:
        while not any(marker in r for r in site.requests):
            await asyncio.sleep(0.05)
        for proc in chromium_processes(marker):
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(str(proc.pid))

    killer = asyncio.ensure_future(kill_when_loading())
    try:
        await asyncio.wait_for(graph.ainvoke({"task": "Read both pages."}, config), 120)
        state = (await graph.aget_state(config)).values
    finally:
        killer.cancel()
        launches = pool.launches
        await io_loop().arun(pool.aclose())
        site.stop()
    deadline = time.monotonic() + 15
    while chromium_processes(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return state, launches, len(chromium_processes(marker)), killed


def browser_crash_outcome() -> ToolOutcome | None:
    """Chromium killed mid-step: the step fails as retryable, is retried on a relaunched
    browser, and the run ends done with both pages cited. None when Chromium is absent."""
    from bench.site_server import chromium_missing

    if chromium_missing() is not None:
        return None
    marker = uuid.uuid4().hex[:8]
    started = time.monotonic()
    state, launches, left, killed = asyncio.run(_crash_run(marker))
    problems = crash_problems(state, launches, left, killed)
    return ToolOutcome("browser_killed_mid_step", not problems, time.monotonic() - started,
                       tuple(problems))  # fmt: skip


def crash_problems(state: dict[str, Any], launches: int, left: int, killed: list[str]) -> list[str]:
    problems = []
    if not killed:
        problems.append("no Chromium process was killed (the fault was not injected)")
    record = (state.get("steps") or {}).get("s2")
    if state.get("status") != "done":
        problems.append(f"run ended {state.get('status')!r}")
    if record is None or record.status != "done" or record.attempt != 2:
        got = (record.status, record.attempt) if record else None
        problems.append(f"s2 should succeed on attempt 2 after the crash, got {got}")
    reflections = state.get("reflections") or []
    if not reflections or reflections[0].decision != "retry":
        problems.append("the crash was not judged a transient failure to retry")
    if launches != 2:
        problems.append(f"Chromium was launched {launches} times, expected a relaunch (2)")
    if left:
        problems.append(f"{left} Chromium processes left behind")
    answer = state.get("answer")
    if answer is None or len(answer.citations) < 2:
        problems.append("the answer does not cite both pages")
    return problems
