"""One measured run, in-process: the job, its result, checkpointers and peak memory.

`execute` runs a `Job` with the engine it names (Ponder, LangChain's
``create_agent`` or smolagents' ``ToolCallingAgent``) and returns a
`RunResult`. The zygote (`bench.zygote`) calls it inside a freshly forked
process per repetition; the smoke test calls it directly.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sqlite3
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench.meter import ModelMeter
from bench.profiles import LatencyProfile
from bench.workloads import Dependencies, FanOut, Flavor, Overhead, TokenGrowth, Workload
from bench.world import World

__all__ = [
    "ENGINES",
    "FRAMEWORKS",
    "Job",
    "RssSampler",
    "RunContext",
    "RunResult",
    "checkpoint_bytes",
    "engine_prepare",
    "execute",
    "open_checkpointer",
    "run_in",
    "uses_real_tools",
    "warmup_job",
    "workload_from",
    "workload_spec",
]

# framework label -> (engine module, flavor)
FRAMEWORKS: dict[str, tuple[str, Flavor]] = {
    "ponder": ("ponder", "ponder"),
    # The same, writing compact plans (one line per step) instead of JSON ones.
    "ponder-compact": ("ponder", "ponder"),
    "langchain-seq": ("langchain", "seq"),
    "langchain-par": ("langchain", "par"),
    "smolagents-seq": ("smolagents", "seq"),
    "smolagents-par": ("smolagents", "par"),
    # smolagents' default pool has min(32, cores + 4) threads (6 here); this runs
    # one thread per call of a turn, as LangChain and Ponder do.
    "smolagents-par-n": ("smolagents", "par"),
}
ENGINES = ("ponder", "langchain", "smolagents")

_KINDS: dict[str, type[Workload]] = {
    "FanOut": FanOut,
    "Dependencies": Dependencies,
    "Overhead": Overhead,
    "TokenGrowth": TokenGrowth,
}


def workload_from(spec: dict[str, Any]) -> Workload:
    return _KINDS[spec["kind"]](**spec.get("args", {}))


def workload_spec(w: Workload) -> dict[str, Any]:
    return {"kind": type(w).__name__, "args": asdict(w)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class Job:
    framework: str
    workload: dict[str, Any]
    seed: int = 0
    profile: dict[str, Any] = field(default_factory=dict)
    checkpointer: str = "none"  # none | memory | sqlite
    timeout_s: float = 300.0
    warmup: bool = False  # run a tiny zero-latency job first, in the same process

    @property
    def engine(self) -> str:
        return FRAMEWORKS[self.framework][0]

    @property
    def flavor(self) -> Flavor:
        return FRAMEWORKS[self.framework][1]


@dataclass
class RunResult:
    framework: str
    workload: str
    label: str
    seed: int
    checkpointer: str
    wall_s: float = 0.0
    setup_s: float = 0.0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
    tool_concurrency: int = 0
    peak_rss_mb: float = 0.0
    ideal_s: float | None = None
    checkpoint_bytes: int | None = None
    score: dict[str, float] = field(default_factory=dict)
    answer: str = ""
    error: str | None = None


@dataclass
class RunContext:
    """What an engine needs to build one run."""

    workload: Workload
    flavor: Flavor
    world: World
    meter: ModelMeter
    checkpointer: Any
    thread_id: str
    framework: str = ""


def uses_real_tools(ctx: RunContext) -> bool:
    return bool(getattr(ctx.workload, "real", False))


# An engine module exposes ``prepare(ctx) -> Callable[[], Awaitable[str]]``.
Prepare = Callable[[RunContext], Callable[[], Awaitable[str]]]


class RssSampler:
    """Peak resident memory of this process and all its children, sampled every 50 ms.

    ``enabled=False`` takes one sample at each end only (no thread): for runs
    whose CPU cost is the figure being measured.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
        self._sample()


@asynccontextmanager
async def open_checkpointer(kind: str, path: str | None = None) -> AsyncIterator[Any]:
    """None, an `InMemorySaver`, or an `AsyncSqliteSaver` on a temporary file."""
    if kind == "none":
        yield None
    elif kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif kind == "sqlite":
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        folder = tempfile.mkdtemp(prefix="ponder-bench-")
        path = path or os.path.join(folder, "checkpoints.sqlite")
        async with aiosqlite.connect(path) as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            saver.bench_path = path  # type: ignore[attr-defined]
            yield saver
    else:
        raise ValueError(f"unknown checkpointer {kind!r}")


def checkpoint_bytes(saver: Any, thread_id: str) -> int | None:
    """Bytes one thread's checkpoints and pending writes take in SQLite."""
    path = getattr(saver, "bench_path", None)
    if path is None:
        return None
    with sqlite3.connect(path) as db:
        (ck,) = db.execute(
            "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) "
            "FROM checkpoints WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
        (wr,) = db.execute(
            "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes WHERE thread_id = ?", (thread_id,)
        ).fetchone()
    return int(ck) + int(wr)


def profile_from(data: dict[str, Any]) -> LatencyProfile:
    return LatencyProfile(**data)


async def run_in(job: Job, prepare: Prepare, saver: Any, *, sample_rss: bool = True) -> RunResult:
    """One run of ``job`` with an already opened checkpointer."""
    workload = workload_from(job.workload)
    profile = profile_from(job.profile)
    world = workload.world(job.seed, profile.scale)
    meter = ModelMeter(workload.script(job.flavor, world), profile)
    result = RunResult(
        job.framework, workload.name, workload.tagged_label, job.seed, job.checkpointer
    )
    ctx = RunContext(workload, job.flavor, world, meter, saver, uuid.uuid4().hex, job.framework)
    started = time.perf_counter()
    run = prepare(ctx)
    result.setup_s = time.perf_counter() - started
    try:
        with RssSampler(sample_rss) as rss:
            started = time.perf_counter()
            answer = await asyncio.wait_for(run(), job.timeout_s)
            result.wall_s = time.perf_counter() - started
        result.peak_rss_mb = rss.peak / 2**20
        result.answer = answer
        result.score = workload.score(answer, world)
    except Exception as exc:  # a failed repetition is reported, not fatal to the suite
        result.error = f"{type(exc).__name__}: {exc}"[:500]
        result.answer = traceback.format_exc()[-1500:]
    result.model_calls = meter.calls
    result.input_tokens = meter.input_tokens
    result.output_tokens = meter.output_tokens
    result.tool_calls = world.meter.calls
    result.tool_concurrency = world.meter.max_concurrency()
    ideal = getattr(workload, "ideal_s", None)
    if ideal is not None:
        result.ideal_s = ideal(job.flavor, meter.records, world.meter.spans)
    result.checkpoint_bytes = checkpoint_bytes(saver, ctx.thread_id)
    return result


def engine_prepare(engine: str) -> Prepare:
    from bench.engines import MODULES

    module = importlib.import_module(f"bench.engines.{MODULES[engine]}")
    prepare: Prepare = module.prepare
    return prepare


def warmup_job(job: Job) -> Job:
    """One no-op step at zero latency with the same framework: pays the process's
    one-time costs (I/O thread, prompt templates, schema caches) before the measured run."""
    zero = asdict(LatencyProfile(name="zero", ttft_s=0.0, prompt_tps=1.0, gen_tps=0.0, scale=0.0))
    return Job(
        framework=job.framework,
        workload=workload_spec(Overhead(1)),
        profile={**zero, "chunk_tokens": job.profile.get("chunk_tokens", 2)},
        timeout_s=60.0,
    )


def execute(job: Job) -> RunResult:
    """Run ``job`` to the end on a fresh event loop (after a warm-up run if it asks)."""
    prepare = engine_prepare(job.engine)

    async def main(run: Job) -> RunResult:
        async with open_checkpointer(run.checkpointer) as saver:
            return await run_in(run, prepare, saver)

    if job.warmup:
        warm = asyncio.run(main(warmup_job(job)))
        if warm.error:
            raise RuntimeError(f"the warm-up run failed: {warm.error}")
    return asyncio.run(main(job))
