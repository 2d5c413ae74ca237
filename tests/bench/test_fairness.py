"""Benchmark fairness (issue 9, item 10): failed repetitions fail goals, one critical-path
formula for every framework, a no-thought variant, and smolagents with a thread per call."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain.agents")
pytest.importorskip("smolagents")

from bench.meter import CallRecord, ToolSpan, critical_path_s
from bench.profiles import PROFILES
from bench.protocol import paired_ratios, summarize
from bench.report import goals, table, write_chart
from bench.runs import Job, RunResult, execute, workload_spec
from bench.workloads import Dependencies, FanOut, Workload

ZERO = asdict(PROFILES["zero"].scaled(0.02))
# Tool calls long enough (30–160 ms) that a busy machine cannot finish one before the
# next thread starts: concurrency is then counted, not raced.
SLOWER = asdict(PROFILES["zero"].scaled(0.2))


def run(
    framework: str, workload: Workload, seed: int = 1, profile: dict[str, Any] = ZERO
) -> RunResult:
    result = execute(
        Job(framework=framework, workload=workload_spec(workload), seed=seed, profile=profile)
    )
    assert result.error is None, result.answer
    return result


def _result(framework: str, seed: int, wall: float, error: str | None = None) -> dict[str, Any]:
    r = RunResult(framework, "b1", "fan-out N=8", seed, "none", wall_s=wall, model_calls=2)
    r.error = error
    return {**asdict(r), "section": "b1"}


def _report(peer_error: bool) -> dict[str, Any]:
    results = [_result("ponder", s, 1.0) for s in range(3)]
    results += [_result("langchain-par", s, 2.0) for s in range(3)]
    if peer_error:
        results[-1] = _result("langchain-par", 2, 0.0, error="TimeoutError: rep 2")
    rows = summarize(results)
    ratios = {"langchain-par": paired_ratios(results, "ponder", "langchain-par")}
    return {"b1": {"summary": rows, "ratios": ratios}}


def _goal(report: dict[str, Any], name: str) -> tuple[str, str, bool | None]:
    return next(g for g in goals(report) if g[0] == name)


def test_a_goal_is_not_met_when_any_repetition_of_its_cells_failed() -> None:
    name = "B1 N=8 wall ponder/langchain-par <= 1.00"
    assert _goal(_report(peer_error=False), name)[2] is True
    failed = _report(peer_error=True)
    _, measured, met = _goal(failed, name)
    assert met is False  # the two finished repetitions alone would give 0.5
    assert "1 failed" in measured
    assert "[1/3 failed]" in table(failed)  # beside the median, in the printed table


def test_the_critical_path_follows_what_each_event_waited_for() -> None:
    calls = [
        CallRecord("react", 10, 10, injected_s=1.0, started=0.0, ended=1.0),
        CallRecord("react", 10, 10, injected_s=0.9, started=3.1, ended=4.0),
    ]
    spans = [
        ToolSpan("lookup", "slow", started=1.05, ended=3.0, injected_s=1.9),
        ToolSpan("lookup", "fast", started=1.05, ended=1.5, injected_s=0.4),
        ToolSpan("calc", "after fast", started=1.6, ended=2.0, injected_s=0.3),
    ]
    # model 1.0 -> slow tool 1.9 -> model 0.9; the fast chain (0.7) is off the path
    assert critical_path_s(calls, spans) == pytest.approx(3.8)
    # A tool started while the model call was still streaming does not wait for it.
    early = [ToolSpan("lookup", "early", started=0.5, ended=2.5, injected_s=2.0)]
    assert critical_path_s(calls[:1], early) == pytest.approx(2.0)


def test_every_framework_gets_the_same_critical_path_formula() -> None:
    calls = [CallRecord("Planning", 5, 5, injected_s=1.0, started=0.0, ended=1.0)]
    spans = [ToolSpan("lookup", "q", started=1.1, ended=2.0, injected_s=0.8)]
    w = Dependencies()
    values = {flavor: w.ideal_s(flavor, calls, spans) for flavor in ("ponder", "seq", "par")}
    assert list(values.values()) == pytest.approx([1.8, 1.8, 1.8])


@pytest.mark.parametrize("framework", ["ponder", "langchain-par"])
def test_efficiency_by_the_shared_formula_is_at_most_one(framework: str) -> None:
    r = run(framework, Dependencies(), seed=4)
    assert r.ideal_s is not None and 0 < r.ideal_s <= r.wall_s


@pytest.mark.parametrize("framework", ["ponder", "langchain-par", "smolagents-seq"])
def test_the_no_thought_variant_drops_the_scripted_reasoning(framework: str) -> None:
    said = run(framework, FanOut(2))
    silent = run(framework, FanOut(2, thoughts=False))
    assert silent.label == "fan-out N=2, no thought" and said.label == "fan-out N=2"
    assert silent.score == said.score == {"facts": 2, "facts_of": 2}
    assert silent.model_calls == said.model_calls
    # about 40 tokens of visible reasoning per reply that carries any
    assert said.output_tokens - silent.output_tokens >= 30


def test_smolagents_with_a_thread_per_call_runs_a_whole_turn_at_once() -> None:
    default = run("smolagents-par", FanOut(8), profile=SLOWER)
    wide = run("smolagents-par-n", FanOut(8), profile=SLOWER)
    assert default.score == wide.score == {"facts": 8, "facts_of": 8}
    assert default.tool_concurrency <= 6  # ThreadPoolExecutor's default on 2 cores
    assert wide.tool_concurrency == 8


def test_the_chart_draws_sizes_and_leaves_the_no_thought_variant_out(tmp_path: Path) -> None:
    results = [_result("ponder", s, 1.0) for s in range(2)]
    silent = [{**_result("ponder", s, 0.9), "label": "fan-out N=8, no thought"} for s in range(2)]
    report = {"b1": {"summary": summarize(results + silent), "ratios": {}}}
    assert write_chart(report, tmp_path / "peers.png") is not None
