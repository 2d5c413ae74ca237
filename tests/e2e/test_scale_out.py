"""Batches on a real two-node Ray cluster and a real PostgreSQL server, with faults.

One Ray cluster (a head and a second node, both on 127.0.0.1) serves the whole
module, since starting one takes seconds. Every run is driven by a scripted
model with latency, so kills land inside runs; "no checkpointed step redone" is
read from each run's checkpoint history: a step that ran again after it was
checkpointed would leave a second, different record of itself there.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.batch_tasks import TaskSpec
from agent.cli.session import RunOptions
from agent.settings import Settings, WebSearchSettings
from agent.store import open_store
from bench.cli_runner import CORPUS, PONDER, REPO, env, write_script
from bench.postgres_server import PostgresServer, postgres_available
from bench.ray_cluster import RayCluster, ray_available
from tests.conftest import corpus_synthesis, planning
from tests.tools.test_searxng import FakeSearxng

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _plan() -> dict[str, Any]:
    step = {"tool": "corpus_search", "depends_on": []}
    return planning(
        {**step, "id": "s1", "goal": "errors", "input": {"query": "TaskGroup errors"}},
        {**step, "id": "s2", "goal": "gather", "input": {"query": "gather exceptions"}},
    )


def _script(path: Path, latency: float) -> Path:
    return write_script(
        path,
        {
            "Planning": [_plan()],
            "Synthesis": [
                corpus_synthesis(("s1.1", "TaskGroup errors"), ("s2.1", "gather exceptions"))
            ],
        },
        repeat_last=True,
        latency_s=latency,
    )


def _tasks(path: Path, count: int) -> Path:
    lines = [f"Task {n}: how do gather and TaskGroup differ?" for n in range(count)]
    path.write_text("\n".join(lines))
    return path


def _batch_args(tasks: Path, script: Path, *extra: str) -> list[str]:
    return [str(PONDER), "batch", str(tasks), "--model", f"script:{script}", "--corpus",
            str(CORPUS), "--tools", "corpus_search", *extra]  # fmt: skip


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _redone_steps(url: str, run_ids: list[str], home: Path) -> dict[str, list[str]]:
    """Per run, the steps whose history holds more than one distinct finished record."""

    async def read() -> dict[str, list[str]]:
        redone: dict[str, list[str]] = {}
        async with open_store(url, {"PONDER_HOME": str(home)}).checkpointer() as saver:
            for run_id in run_ids:
                seen: dict[str, set[float]] = {}
                async for found in saver.alist({"configurable": {"thread_id": run_id}}):
                    for sid, rec in (found.checkpoint["channel_values"].get("steps") or {}).items():
                        if rec.status == "done":
                            seen.setdefault(sid, set()).add(rec.started_at)
                assert set(seen) == {"s1", "s2"}, (run_id, seen)
                if bad := [sid for sid, starts in seen.items() if len(starts) > 1]:
                    redone[run_id] = bad
        return redone

    return asyncio.run(read())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scale-home")


@pytest.fixture(scope="module")
def cluster(home: Path) -> Iterator[RayCluster]:
    if not ray_available():
        pytest.skip("Ray is not installed (pip install 'ponder[ray]')")
    with RayCluster(env(home, PYTHONPATH=str(REPO))) as started:
        yield started


@pytest.mark.ray
@pytest.mark.timeout(600)
def test_workers_killed_mid_run_lose_nothing_and_redo_no_checkpointed_step(
    cluster: RayCluster, postgres_url: str, home: Path, tmp_path: Path
) -> None:
    """Ten seeded kill -9s of busy Ray workers; every task still ends once, done."""
    script = _script(tmp_path / "model.json", latency=0.8)
    out = tmp_path / "results.jsonl"
    count = 20  # long enough for ten kills at 1–2.5 s apart, even on a fast machine
    proc = subprocess.Popen(
        _batch_args(_tasks(tmp_path / "tasks.txt", count), script, "--ray", cluster.address,
                    "--store", postgres_url, "--out", str(out), "--batch-id", "kill",
                    "--concurrency", "4", "--ray-retries", "10"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home), cwd=REPO,
    )  # fmt: skip
    rng = random.Random(20261202)
    kills: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while len(kills) < 10 and not stop.wait(rng.uniform(1.0, 2.5)):
            busy = cluster.worker_pids()
            if busy:
                victim = rng.choice(sorted(busy))
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        _, stderr = proc.communicate(timeout=480)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    thread.join(10)
    assert len(kills) == 10, f"only {len(kills)} kills landed before the batch ended"
    assert proc.returncode == 0, stderr[-3000:]
    results = _results(out)
    assert sorted(r["index"] for r in results) == list(range(1, count + 1))
    assert {r["status"] for r in results} == {"done"}, [r["error"] for r in results]
    run_ids = [f"kill-{n:04d}" for n in range(1, count + 1)]
    assert _redone_steps(postgres_url, run_ids, home) == {}


@pytest.mark.ray
@pytest.mark.timeout(600)
def test_killed_ray_driver_resumes_with_every_task_exactly_once(
    cluster: RayCluster, postgres_url: str, home: Path, tmp_path: Path
) -> None:
    script = _script(tmp_path / "model.json", latency=0.6)
    out = tmp_path / "results.jsonl"
    count = 10
    args = ["--ray", cluster.address, "--store", postgres_url, "--concurrency", "4"]
    proc = subprocess.Popen(
        _batch_args(_tasks(tmp_path / "tasks.txt", count), script, *args, "--out", str(out),
                    "--batch-id", "drv"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home), cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (out.exists() and out.read_text().count("\n") >= 3):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no results before the kill"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _results(out)
    assert len(before) < count, "the batch finished before the driver was killed"
    resumed = subprocess.run(
        [str(PONDER), "batch", "--resume", "drv", *args],
        capture_output=True, text=True, env=env(home), cwd=REPO, timeout=300, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = _results(out)
    assert sorted(r["index"] for r in after) == list(range(1, count + 1)), "lost or doubled"
    assert after[: len(before)] == before
    assert {r["status"] for r in after} == {"done"}
    run_ids = [f"drv-{n:04d}" for n in range(1, count + 1)]
    assert _redone_steps(postgres_url, run_ids, home) == {}


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL 15 is not installed")
@pytest.mark.timeout(600)
def test_postgres_stopped_mid_batch_is_waited_out(tmp_path: Path) -> None:
    """The store goes away for 4 s mid-batch: runs wait, resume, and nothing is lost."""
    with PostgresServer() as own:
        url = own.create_database()
        script = _script(tmp_path / "model.json", latency=0.6)
        out = tmp_path / "results.jsonl"
        count = 6
        proc = subprocess.Popen(
            _batch_args(_tasks(tmp_path / "tasks.txt", count), script, "--store", url,
                        "--out", str(out), "--concurrency", "3", "--batch-id", "pg"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
            cwd=REPO,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            while not (out.exists() and out.read_text().count("\n") >= 1):
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                assert time.monotonic() < deadline
                time.sleep(0.1)
            own.stop("immediate")
            time.sleep(4)
            own.start()
            _, stderr = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, stderr[-3000:]
        assert "unreachable" in stderr or "lost the run store" in stderr, "the outage went unseen"
        results = _results(out)
        assert sorted(r["index"] for r in results) == list(range(1, count + 1))
        assert {r["status"] for r in results} == {"done"}, [r["error"] for r in results]
        assert _redone_steps(url, [f"pg-{n:04d}" for n in range(1, count + 1)], tmp_path) == {}


@pytest.mark.timeout(600)
def test_two_batches_share_one_store_without_disturbing_each_other(
    postgres_url: str, tmp_path: Path
) -> None:
    script = _script(tmp_path / "model.json", latency=0.3)

    def start(name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            _batch_args(_tasks(tmp_path / f"{name}.txt", 4), script, "--store", postgres_url,
                        "--out", str(tmp_path / f"{name}.jsonl"), "--batch-id", name,
                        "--concurrency", "2"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
            cwd=REPO,
        )  # fmt: skip

    procs = {name: start(name) for name in ("left", "right")}
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, stderr[-3000:])
        results = _results(tmp_path / f"{name}.jsonl")
        assert [r["run_id"] for r in sorted(results, key=lambda r: r["index"])] == [
            f"{name}-{n:04d}" for n in range(1, 5)
        ]
        assert {r["status"] for r in results} == {"done"}
    listed = open_store(postgres_url, {"PONDER_HOME": str(tmp_path)}).list(limit=100)
    assert sorted(r.run_id for r in listed) == sorted(
        f"{name}-{n:04d}" for name in ("left", "right") for n in range(1, 5)
    )
    assert {r.status for r in listed} == {"done"}


def _searches_on_a_worker(spec_json: str, count: int, index_dir: str) -> int:
    """Runs in a Ray worker: ``count`` web searches of a batch task, paced as its run's are."""
    from agent.cli.batch_ray import _batch_limiter
    from tools.search import WebSearchTool
    from tools.search_limiter import using_search_limiter
    from tools.toolbox import ToolboxOptions, build_toolbox

    spec = TaskSpec.model_validate_json(spec_json)

    async def search() -> None:
        with using_search_limiter(_batch_limiter(spec)):
            options = ToolboxOptions(
                search="web", index_dir=Path(index_dir), only=("web_search",),
                web_search=spec.options.settings.web_search,
            )  # fmt: skip
            (tool,) = build_toolbox(options).tools
            if not isinstance(tool, WebSearchTool):
                raise TypeError(f"expected web_search, got {tool.name}")
            for n in range(count):
                found = await tool.observe(query=f"task {spec.index} query {n}")
                if not found.ok:
                    raise RuntimeError(found.content)

    asyncio.run(search())
    return os.getpid()


@pytest.mark.ray
@pytest.mark.timeout(300)
def test_ray_workers_share_one_search_rate(cluster: RayCluster, tmp_path: Path) -> None:
    """Four Ray tasks on two nodes search a fake SearXNG at once: the limiter actor keeps
    the arrivals of all of them 1/rate apart; a batch without the actor (the control) does not."""
    import ray

    from tools.search_limiter import start_ray_search_limiter

    rate, tasks, each = 5.0, 4, 3
    searx = FakeSearxng()
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)  # fmt: skip
    try:
        web = WebSearchSettings(engines=("searxng",), searxng_url=searx.url, rate_per_s=rate)
        remote = ray.remote(num_cpus=1, max_retries=0)(_searches_on_a_worker)

        def run_batch(batch_id: str) -> tuple[list[float], set[int]]:
            searx.times.clear()
            specs = [
                TaskSpec(batch_id=batch_id, index=i,
                         options=RunOptions(task="t", settings=Settings(web_search=web)))
                for i in range(1, tasks + 1)
            ]  # fmt: skip
            refs = [remote.remote(s.model_dump_json(), each, str(tmp_path)) for s in specs]
            pids = set(ray.get(refs, timeout=180))
            return sorted(searx.times), pids

        run_batch("warm")  # workers start and import Ponder, so the timed batches overlap
        limiter = start_ray_search_limiter("paced", rate)
        ray.get(limiter.rate.remote(), timeout=60)
        paced, pids = run_batch("paced")
        free, _ = run_batch("unpaced")  # no actor of that name: every run paces only itself
    finally:
        ray.shutdown()
        searx.stop()
    assert len(paced) == tasks * each and len(pids) >= 2, (paced, pids)
    # The k-th request may come late (a busy machine), never early: k/rate after the first.
    early = [k / rate - (t - paced[0]) for k, t in enumerate(paced)]
    assert max(early) <= 0.05, [round(t - paced[0], 3) for t in paced]
    assert len(free) == tasks * each
    free_gaps = [b - a for a, b in itertools.pairwise(free)]
    assert min(free_gaps) < 1 / rate / 2, "the control was paced too: the test proves nothing"
