"""Scale-out benchmark: batches on a local Ray cluster, and what each store costs.

    python -m bench.scale_out [--tasks 200] [--workers 1,2,4] [--latency 1.0]

1. Throughput: one batch of ``--tasks`` tasks per worker count, on a two-node
   Ray cluster (both nodes on 127.0.0.1, 2 CPUs each) with a real PostgreSQL
   server. Every run is driven by the scripted model, each call taking
   ``--latency`` seconds (a plan, two corpus steps, a synthesis: two model
   calls), so the model dominates as it does with a hosted one. ``--workers W``
   keeps W tasks in flight. Reports runs/s and p50/p95 run wall time.
2. Checkpoint cost per step: the same zero-latency run, repeated, with an
   in-memory saver, the SQLite store and the Postgres store; the extra wall
   time over in-memory, divided by the checkpoints each run writes.
3. Store size per run: bytes the SQLite file and the Postgres database grew by,
   per finished run.

Writes ``bench/results/scale_out.json``. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from langgraph.checkpoint.memory import InMemorySaver

from agent.checkpointing import checkpoint_serde
from agent.store import open_store
from agent.testing import ScriptedChatModel, plan_step, planning_reply
from bench.cli_runner import CORPUS, CORPUS_CLAIMS, PONDER, REPO, env, write_script
from bench.postgres_server import PostgresServer
from bench.ray_cluster import RayCluster
from graphs.research import build_research_graph
from tools.toolbox import ToolboxOptions, build_toolbox

RESULTS = REPO / "bench" / "results" / "scale_out.json"


def _plan() -> dict[str, Any]:
    return planning_reply(
        plan_step("s1", "corpus_search", {"query": "TaskGroup errors"}, goal="errors"),
        plan_step("s2", "corpus_search", {"query": "gather exceptions"}, goal="gather"),
    )


def _script() -> dict[str, Any]:
    # Claims the cited passages say, so the citation check keeps them and runs end done.
    cited = (("s1.1", "TaskGroup errors"), ("s2.1", "gather exceptions"))
    claims = [{"text": CORPUS_CLAIMS[q], "cites": [c], "quote": ""} for c, q in cited]
    return {"Planning": [_plan()], "Synthesis": [{"claims": claims, "gaps": []}]}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def throughput(tasks: int, workers: list[int], latency: float, work: Path) -> list[dict[str, Any]]:
    script = write_script(work / "model.json", _script(), repeat_last=True, latency_s=latency)
    task_file = work / "tasks.txt"
    task_file.write_text("\n".join(f"Task {n}: how do gather and TaskGroup differ?"
                                   for n in range(tasks)))  # fmt: skip
    rows = []
    with PostgresServer(fsync=True) as pg, RayCluster(env(work, PYTHONPATH=str(REPO))) as ray:
        for w in workers:
            url = pg.create_database()
            out = work / f"w{w}.jsonl"
            t0 = time.monotonic()
            done = subprocess.run(
                [str(PONDER), "batch", str(task_file), "--model", f"script:{script}",
                 "--corpus", str(CORPUS), "--tools", "corpus_search", "--ray", ray.address,
                 "--store", url, "--out", str(out), "--concurrency", str(w),
                 "--batch-id", f"w{w}"],
                capture_output=True, text=True, env=env(work), cwd=REPO, timeout=7200,
                check=False,
            )  # fmt: skip
            wall = time.monotonic() - t0
            results = [json.loads(line) for line in out.read_text().splitlines()]
            run_walls = [float(r["report"]["usage"]["wall_s"]) for r in results if r["report"]]
            rows.append({
                "workers": w, "tasks": tasks, "exit": done.returncode,
                "done": sum(r["status"] == "done" for r in results),
                "wall_s": round(wall, 1), "runs_per_s": round(len(results) / wall, 3),
                "p50_run_s": round(_pct(run_walls, 0.5), 2),
                "p95_run_s": round(_pct(run_walls, 0.95), 2),
            })  # fmt: skip
            print(rows[-1], flush=True)
    return rows


async def _runs(saver: Any, count: int, tools: list[Any]) -> tuple[float, float]:
    """Mean wall time per run and checkpoints per run, with ``saver``."""
    walls, checkpoints = [], []
    for n in range(count):
        graph = build_research_graph(ScriptedChatModel(script=_script()), tools, checkpointer=saver)
        config: Any = {"configurable": {"thread_id": f"cost-{n}"}}
        t0 = time.perf_counter()
        await graph.ainvoke({"task": "How do gather and TaskGroup differ?"}, config)
        walls.append(time.perf_counter() - t0)
        checkpoints.append(len([c async for c in saver.alist(config)]))
    return statistics.mean(walls), statistics.mean(checkpoints)


def checkpoint_cost(runs: int, work: Path) -> dict[str, Any]:
    tools = list(build_toolbox(ToolboxOptions(
        search="corpus", corpus=CORPUS, index_dir=work / "index", only=("corpus_search",),
    )).tools)  # fmt: skip
    home = {"PONDER_HOME": str(work)}

    async def measure(pg_url: str) -> dict[str, Any]:
        base, per_run = await _runs(InMemorySaver(serde=checkpoint_serde()), runs, tools)
        row: dict[str, Any] = {"runs": runs, "checkpoints_per_run": per_run,
                               "memory_run_ms": round(base * 1000, 1)}  # fmt: skip
        for name, spec in (("sqlite", str(work / "cost.sqlite")), ("postgres", pg_url)):
            store = open_store(spec, home)
            async with store.checkpointer() as saver:
                wall, _ = await _runs(saver, runs, tools)
            row[f"{name}_run_ms"] = round(wall * 1000, 1)
            row[f"{name}_ms_per_checkpoint"] = round((wall - base) * 1000 / per_run, 2)
        return row

    with PostgresServer(fsync=True) as pg:
        url = pg.create_database()
        open_store(url, home)  # tables first, so their creation is not counted as data
        with psycopg.connect(url) as conn:
            size0 = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        row = asyncio.run(measure(url))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM")
            size1 = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    sqlite_bytes = sum(p.stat().st_size for p in work.glob("cost.sqlite*"))
    row["sqlite_kb_per_run"] = round(sqlite_bytes / runs / 1024, 1)
    row["postgres_kb_per_run"] = round((size1 - size0) / runs / 1024, 1)
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--cost-runs", type=int, default=30)
    parser.add_argument("--only", choices=["throughput", "cost"], default=None)
    args = parser.parse_args(argv)
    # Sections run apart (--only) add to the last results instead of replacing them.
    report: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    report.update({"machine_cpus": os.cpu_count(), "latency_s": args.latency})
    with tempfile.TemporaryDirectory(prefix="ponder-scale-") as tmp:
        work = Path(tmp)
        if args.only in (None, "cost"):
            report["checkpoint_cost"] = checkpoint_cost(args.cost_runs, work)
        if args.only in (None, "throughput"):
            workers = [int(w) for w in args.workers.split(",")]
            rows = throughput(args.tasks, workers, args.latency, work)
            report["throughput"] = rows
            by = {r["workers"]: r["runs_per_s"] for r in rows}
            if 1 in by and 2 in by:
                report["speedup_1_to_2"] = round(by[2] / by[1], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
