"""The measurement protocol: interleaved repetitions, fresh processes, medians and ratios.

Repetition r runs every cell once, frameworks side by side (A B C A B C ...),
each in a freshly forked process, with world seed r. Each child first makes a
zero-latency warm-up run of one no-op step, so one-time process costs (which
B3 and the cold-start section report on their own) are not counted in the
workload's time. Within a repetition
every framework sees the same tool latencies and data, so Ponder/peer ratios
are paired by repetition. Summaries give the median and min-max.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bench.profiles import LatencyProfile
from bench.runs import FRAMEWORKS, Job, RunResult, workload_spec
from bench.workloads import Workload
from bench.zygote import Zygote

__all__ = ["Cell", "Zygotes", "paired_ratios", "run_cells", "summarize"]


@dataclass(frozen=True)
class Cell:
    section: str
    framework: str
    workload: Workload
    reps: int
    checkpointer: str = "none"
    timeout_s: float = 300.0


class Zygotes:
    """One fork server per engine, started on first use."""

    def __init__(self) -> None:
        self._by_engine: dict[str, Zygote] = {}
        self.import_s: dict[str, float] = {}

    def get(self, engine: str) -> Zygote:
        if engine not in self._by_engine:
            self._by_engine[engine] = Zygote(engine)
            self.import_s[engine] = self._by_engine[engine].import_s
        return self._by_engine[engine]

    def close(self) -> None:
        for z in self._by_engine.values():
            z.close()
        self._by_engine.clear()

    def __enter__(self) -> Zygotes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _failed(cell: Cell, seed: int, error: str) -> dict[str, Any]:
    r = RunResult(
        cell.framework, cell.workload.name, cell.workload.tagged_label, seed, cell.checkpointer
    )
    r.error = error
    return asdict(r)


def run_cells(
    zygotes: Zygotes,
    cells: list[Cell],
    profile: LatencyProfile,
    *,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every cell ``cell.reps`` times, interleaved by repetition; one result dict per run."""
    results: list[dict[str, Any]] = []
    reps = max((c.reps for c in cells), default=0)
    for rep in range(reps):
        started = time.monotonic()
        for cell in cells:
            if rep >= cell.reps:
                continue
            job = Job(
                framework=cell.framework,
                workload=workload_spec(cell.workload),
                seed=rep,
                profile=asdict(profile),
                checkpointer=cell.checkpointer,
                timeout_s=cell.timeout_s,
                warmup=True,
            )
            engine = FRAMEWORKS[cell.framework][0]
            try:
                out = zygotes.get(engine).call(asdict(job), timeout_s=cell.timeout_s + 30)
            except RuntimeError as exc:
                out = _failed(cell, rep, str(exc))
            out["section"] = cell.section
            if not out.get("error"):
                out["answer"] = out.get("answer", "")[:200]  # keeps peers.json small
            results.append(out)
            if out.get("error") and log:
                log(f"  ! {cell.framework} {cell.workload.tagged_label} rep {rep}: {out['error']}")
        if log:
            log(f"  repetition {rep + 1}/{reps} done in {time.monotonic() - started:.1f}s")
    return results


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (section, workload label, framework, checkpointer)."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        key = (r["section"], r["label"], r["framework"], r["checkpointer"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (section, label, framework, ck), runs in groups.items():
        ok = [r for r in runs if not r.get("error")]
        row: dict[str, Any] = {
            "section": section,
            "label": label,
            "framework": framework,
            "checkpointer": ck,
            "runs": len(runs),
            "errors": len(runs) - len(ok),
        }
        for metric in ("wall_s", "model_calls", "input_tokens", "output_tokens", "peak_rss_mb"):
            row[metric] = _stats([float(r[metric]) for r in ok])
        row["tool_concurrency"] = _stats([float(r["tool_concurrency"]) for r in ok])
        ideals = [(r["ideal_s"], r["wall_s"]) for r in ok if r.get("ideal_s")]
        row["efficiency"] = _stats([i / w for i, w in ideals if w > 0])
        scores: dict[str, list[float]] = {}
        for r in ok:
            for k, v in (r.get("score") or {}).items():
                scores.setdefault(k, []).append(float(v))
        row["score"] = {k: _stats(v) for k, v in scores.items()}
        rows.append(row)
    return rows


def paired_ratios(
    results: Iterable[dict[str, Any]], mine: str, peer: str, metric: str = "wall_s"
) -> dict[str, dict[str, float] | None]:
    """Per workload label: ``mine / peer`` paired by seed, as median and min-max."""
    by: dict[tuple[str, str, int], float] = {}
    labels: list[str] = []
    for r in results:
        if r.get("error") or r["framework"] not in (mine, peer):
            continue
        by[(r["label"], r["framework"], r["seed"])] = float(r[metric])
        if r["label"] not in labels:
            labels.append(r["label"])
    out: dict[str, dict[str, float] | None] = {}
    for label in labels:
        seeds = {s for (lab, _, s) in by if lab == label}
        ratios = [
            by[(label, mine, s)] / by[(label, peer, s)]
            for s in sorted(seeds)
            if (label, mine, s) in by and (label, peer, s) in by and by[(label, peer, s)] > 0
        ]
        out[label] = _stats(ratios)
    return out


def eprint(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
