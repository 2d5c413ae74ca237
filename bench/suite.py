"""The benchmark sections, each returning plain data for the report.

B1 fan-out, B2 dependencies, B4 token growth and the real-tools variant go
through the interleaved protocol; B3 overhead and memory drift run many
iterations inside one fresh process per framework; B5 and cold start run
their own subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from typing import Any

from bench.coldstart import measure_cold_start
from bench.profiles import LatencyProfile, profile_named
from bench.protocol import Cell, Zygotes, paired_ratios, run_cells, summarize
from bench.runs import FRAMEWORKS
from bench.workloads import Dependencies, FanOut, TokenGrowth
from bench.zygote import ROOT

__all__ = ["ALL", "Plan", "b1", "b2", "b3", "b4", "b5", "chosen", "cold_start", "ratios"]

PEERS = ("langchain-seq", "langchain-par", "smolagents-seq", "smolagents-par", "smolagents-par-n")
ALL = ("ponder", *PEERS)
B1_ALL = ("ponder", "ponder-compact", *PEERS)  # B1 also measures compact plans
# Only B1 has turns of more calls than smolagents' default pool (6 threads here) runs at once.
NARROW = tuple(fw for fw in ALL if fw != "smolagents-par-n")


@dataclass(frozen=True)
class Plan:
    """How big each section is; ``--quick`` shrinks all of it."""

    reps: int = 10
    scale: float = 0.05
    fanout: tuple[int, ...] = (1, 2, 4, 8, 16)
    seq_reps_at_16: int = 3  # 33 turns each, nearly all of it injected sleep
    real_reps: int = 5
    overhead_iterations: int = 25
    drift_runs: int = 1000
    token_ks: tuple[int, ...] = (2, 4, 8)
    cold_runs: int = 10
    first_plan_timeout_s: float = 90.0
    demo_repeats: int = 1  # the model is measured in every run; more repeats add minutes
    frameworks: tuple[str, ...] = ()  # empty: all of them
    profile: str = "api"
    serialize: bool = False

    def latency(self) -> LatencyProfile:
        p = profile_named(self.profile).scaled(self.scale)
        return p.serialized(self.serialize or p.serialize)


QUICK = Plan(
    reps=1,
    scale=0.05,
    fanout=(1, 4),
    seq_reps_at_16=1,
    real_reps=1,
    overhead_iterations=3,
    drift_runs=50,
    token_ks=(2,),
    cold_runs=2,
    first_plan_timeout_s=30.0,
    demo_repeats=1,
)


def ratios(results: list[dict[str, Any]], mine: str = "ponder") -> dict[str, Any]:
    """``mine``/peer wall-time ratios per workload, paired by repetition."""
    return {peer: paired_ratios(results, mine, peer) for peer in PEERS}


def chosen(plan: Plan, frameworks: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in frameworks if not plan.frameworks or f in plan.frameworks)


def b1(z: Zygotes, plan: Plan, log: Any) -> dict[str, Any]:
    cells = []
    for n in plan.fanout:
        w = FanOut(n)
        for fw in chosen(plan, B1_ALL):
            reps = plan.seq_reps_at_16 if n >= 16 and fw.endswith("-seq") else plan.reps
            cells.append(Cell("b1", fw, w, reps, timeout_s=600.0))
    if 8 in plan.fanout:  # the same fan-out with no scripted thought text per reply
        for fw in chosen(plan, ALL):
            cells.append(Cell("b1", fw, FanOut(8, thoughts=False), plan.reps, timeout_s=600.0))
    results = run_cells(z, cells, plan.latency(), log=log)
    return {
        "results": results,
        "summary": summarize(results),
        "ratios": ratios(results),
        "compact_ratios": ratios(results, "ponder-compact"),
    }


def b2(z: Zygotes, plan: Plan, log: Any) -> dict[str, Any]:
    replans = max(1, round(plan.reps * 0.3)) if plan.reps > 1 else 0
    cells = []
    for fw in chosen(plan, NARROW):
        cells.append(Cell("b2", fw, Dependencies(replan=False), plan.reps - replans))
        if replans:
            cells.append(Cell("b2", fw, Dependencies(replan=True), replans))
        no_thought = Dependencies(replan=False, thoughts=False)
        cells.append(Cell("b2", fw, no_thought, plan.reps - replans))
    results = run_cells(z, cells, plan.latency(), log=log)
    return {"results": results, "summary": summarize(results), "ratios": ratios(results)}


def b3(z: Zygotes, plan: Plan, log: Any) -> dict[str, Any]:
    rows = []
    variants: list[tuple[str, str, int]] = []
    for ck in ("none", "memory", "sqlite"):
        variants.append(("ponder", ck, 2))
        variants += [(fw, ck, 2) for fw in NARROW[1:] if ck == "none" or fw.startswith("langchain")]
    variants.append(("ponder", "none", 1_000_000))  # whole replies: no streaming cost
    for fw, ck, chunk in variants:
        if fw not in chosen(plan, (fw,)):
            continue
        engine = FRAMEWORKS[fw][0]
        request = {
            "framework": fw,
            "checkpointer": ck,
            "iterations": plan.overhead_iterations,
            "chunk_tokens": chunk,
        }
        try:
            rows.append(z.get(engine).call(request, kind="overhead", timeout_s=600))
        except RuntimeError as exc:
            rows.append({"framework": fw, "checkpointer": ck, "error": str(exc)})
            log(f"  ! overhead {fw} {ck}: {exc}")
    drift = []
    for fw in chosen(plan, ("ponder", "langchain-par")):
        request = {"framework": fw, "runs": plan.drift_runs, "chunk_tokens": 1_000_000}
        try:
            drift.append(z.get(FRAMEWORKS[fw][0]).call(request, kind="drift", timeout_s=600))
        except RuntimeError as exc:
            drift.append({"framework": fw, "error": str(exc)})
            log(f"  ! drift {fw}: {exc}")
    return {"overhead": rows, "drift": drift}


def b4(z: Zygotes, plan: Plan, log: Any) -> dict[str, Any]:
    cells = [
        Cell("b4", fw, TokenGrowth(k), 2)
        for k in plan.token_ks
        for fw in chosen(plan, ("ponder", "langchain-seq", "smolagents-seq"))
    ]
    zero = profile_named("zero").scaled(0.0)
    results = run_cells(z, cells, zero, log=log)
    ratios = {
        peer: paired_ratios(results, "ponder", peer, "input_tokens")
        for peer in ("langchain-seq", "smolagents-seq")
    }
    return {"results": results, "summary": summarize(results), "ratios": ratios}


def _demo_speeds(plan: Plan, log: Any) -> dict[str, Any] | None:
    """The demo model's speeds, measured now in a fresh process (``bench.demo_model``)."""
    demo = ROOT / "bench" / "results" / "demo_model.json"
    before = demo.stat().st_mtime if demo.exists() else 0.0
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.demo_model", "--repeats", str(plan.demo_repeats)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        log("  ! demo model speeds: timed out")
        return None
    if done.returncode != 0 or not demo.exists() or demo.stat().st_mtime <= before:
        log(f"  ! demo model speeds failed: {done.stderr.strip()[-300:]}")
        return None
    measured: dict[str, Any] = json.loads(demo.read_text())
    return measured


def b5(plan: Plan, log: Any) -> dict[str, Any]:
    """The demo model, measured in this run: its speeds, and time to the first plan
    in a fresh process (the model's load included, no warm-up run before it)."""
    out: dict[str, Any] = {"demo_model": _demo_speeds(plan, log)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.first_plan", str(plan.first_plan_timeout_s)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=plan.first_plan_timeout_s + 60,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        lines = done.stdout.strip().splitlines()
        out["first_plan"] = (
            json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-300:]}
        )
    except subprocess.TimeoutExpired:
        out["first_plan"] = {"error": "timed out"}
    out["cpu_small"] = _describe(profile_named("cpu-small"))
    return out


def _describe(p: LatencyProfile) -> dict[str, Any]:
    return {
        "ttft_s": p.ttft_s,
        "prompt_tps": p.prompt_tps,
        "gen_tps": p.gen_tps,
        "measured": p.measured,
        "text": p.describe(),
    }


def cold_start(plan: Plan, log: Any) -> dict[str, Any]:
    return measure_cold_start(plan.cold_runs)


def with_profile(plan: Plan, name: str, serialize: bool) -> Plan:
    return replace(plan, profile=name, serialize=serialize)
