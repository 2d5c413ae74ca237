"""B3 pure overhead: zero-latency model, no-op tools, many runs in one fresh process.

`measure_overhead` alternates runs of K_small and K_large no-op steps with one
checkpointer (none, in-memory or SQLite) and reports the marginal cost of one
more step: the median over iterations of ``(t(K_large) - t(K_small)) /
(K_large - K_small)``, each pair run back to back, so fixed per-run costs and
slow drifts of the machine cancel out; plus the first run's time (fresh
process) and the marginal SQLite bytes per step. `measure_drift` runs one workload a
thousand times and samples resident memory to show whether it leaks.

Both run inside a zygote child (see `bench.zygote`).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
from dataclasses import asdict, replace
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench.profiles import PROFILES
from bench.runs import Job, engine_prepare, open_checkpointer, run_in, workload_spec
from bench.workloads import Overhead

__all__ = ["measure_drift", "measure_overhead"]


def _job(framework: str, k: int, checkpointer: str, chunk_tokens: int = 2) -> Job:
    """A zero-latency run; ``chunk_tokens`` sizes the chunks of streamed replies."""
    profile = replace(PROFILES["zero"].scaled(0.0), chunk_tokens=chunk_tokens)
    return Job(
        framework=framework,
        workload=workload_spec(Overhead(k)),
        profile=asdict(profile),
        checkpointer=checkpointer,
        timeout_s=60.0,
    )


def measure_overhead(request: dict[str, Any]) -> dict[str, Any]:
    framework = request["framework"]
    kind = request.get("checkpointer", "none")
    small, large = int(request.get("k_small", 2)), int(request.get("k_large", 12))
    iterations = int(request.get("iterations", 20))
    chunk = int(request.get("chunk_tokens", 2))
    warmup = 2
    jobs = {k: _job(framework, k, kind, chunk) for k in (small, large)}
    prepare = engine_prepare(jobs[small].engine)

    async def main() -> dict[str, Any]:
        walls: dict[int, list[float]] = {small: [], large: []}
        steps: list[float] = []
        sizes: dict[int, list[int]] = {small: [], large: []}
        first = 0.0
        async with open_checkpointer(kind) as saver:
            for i in range(iterations + warmup):
                for k in (small, large):
                    r = await run_in(jobs[k], prepare, saver, sample_rss=False)
                    if r.error:
                        raise RuntimeError(f"{framework} K={k}: {r.error}")
                    if i == 0 and k == small:
                        first = r.wall_s
                    if i >= warmup:
                        walls[k].append(r.wall_s)
                        if r.checkpoint_bytes is not None:
                            sizes[k].append(r.checkpoint_bytes)
                if i >= warmup:
                    steps.append((walls[large][-1] - walls[small][-1]) / (large - small))
        med = {k: statistics.median(v) for k, v in walls.items()}
        out: dict[str, Any] = {
            "framework": framework,
            "checkpointer": kind,
            "chunk_tokens": chunk,
            "k_small": small,
            "k_large": large,
            "iterations": iterations,
            "first_run_s": first,
            "run_small_s": med[small],
            "run_large_s": med[large],
            "per_step_us": statistics.median(steps) * 1e6,
            "bytes_per_step": None,
        }
        if sizes[small] and sizes[large]:
            d = statistics.median(sizes[large]) - statistics.median(sizes[small])
            out["bytes_per_step"] = d / (large - small)
        return out

    return asyncio.run(main())


def _rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def measure_drift(request: dict[str, Any]) -> dict[str, Any]:
    """Resident memory every ``every`` runs over ``runs`` runs (no checkpointer)."""
    framework = request["framework"]
    runs, k = int(request.get("runs", 1000)), 4
    every = int(request.get("every", max(1, runs // 10)))
    job = _job(framework, k, "none", int(request.get("chunk_tokens", 2)))
    prepare = engine_prepare(job.engine)

    async def main() -> dict[str, Any]:
        samples: list[tuple[int, float]] = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(1, runs + 1):
            r = await run_in(job, prepare, None, sample_rss=False)
            if r.error:
                raise RuntimeError(f"{framework} run {i}: {r.error}")
            if i % every == 0:
                samples.append((i, _rss_mb()))
        xs = [float(i) for i, _ in samples[1:]]
        ys = [mb for _, mb in samples[1:]]
        slope = statistics.linear_regression(xs, ys).slope if len(xs) > 1 else 0.0
        return {
            "framework": framework,
            "runs": runs,
            "seconds": loop.time() - started,
            "samples": samples,
            "drift_mb": samples[-1][1] - samples[0][1],
            "kb_per_run": slope * 1024,
        }

    return asyncio.run(main())
