"""`ponder batch` end to end: several tasks at once, one failing, every run resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bench.cli_runner import CORPUS, CORPUS_CLAIMS, PONDER, REPO, env, events, ponder, write_script
from tests.conftest import corpus_synthesis, planning

_GOOD = planning(
    {
        "id": "s1",
        "goal": "find how gather treats errors",
        "tool": "corpus_search",
        "input": {"query": "gather exceptions"},
        "depends_on": [],
    }
)
_UNKNOWN_TOOL = planning(
    {"id": "s1", "goal": "g", "tool": "no_such_tool", "input": {"query": "q"}, "depends_on": []}
)
_TASKS = [
    "How does gather treat errors?",
    "What is a TaskGroup?",
    "The doomed task: plan it with a tool nobody has",
    "What does asyncio.wait_for do?",
]


def _max_open(stderr: str) -> int:
    """The most runs whose log lines (first to last) overlapped in time."""
    rows = [ln.split(" ", 1)[0] for ln in stderr.splitlines() if ln.startswith("b1-")]
    first = {rid: rows.index(rid) for rid in set(rows)}
    last = {rid: len(rows) - 1 - rows[::-1].index(rid) for rid in set(rows)}
    return max(sum(first[r] <= i <= last[r] for r in first) for i in range(len(rows)))


def test_batch_runs_tasks_concurrently_and_each_run_resumes(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [_GOOD], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]},
        by_task={"doomed": {"Planning": [_UNKNOWN_TOOL]}},
        repeat_last=True,
        latency_s=0.3,
    )
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("\n".join([*_TASKS[:2], "# a comment", *_TASKS[2:]]) + "\n")
    done = ponder(
        "batch", str(tasks), "--model", f"script:{script}", "--corpus", str(CORPUS),
        "--tools", "corpus_search", "--concurrency", "3", "--max-replans", "1",
        "--max-model-calls", "10", "--jsonl", "--batch-id", "b1", "--search-rate", "2.5",
        home=tmp_path, timeout=180,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]  # the worst outcome: one run failed
    assert "Traceback" not in done.stderr
    items = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i["task"] for i in items] == _TASKS
    assert [i["run_id"] for i in items] == ["b1-0001", "b1-0002", "b1-0003", "b1-0004"]
    assert [i["status"] for i in items] == ["done", "done", "failed", "done"]
    assert "unknown tool 'no_such_tool'" in items[2]["error"]
    assert "batch b1: done 3 / failed 1 / unanswered 0 · web search ≤ 2.5/s" in done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("batch b1 [")]
    assert len(progress) == 4 and all(line.endswith("search ≤ 2.5/s") for line in progress)
    assert "(web search at most 2.5/s in all)" in done.stderr
    for item in items:
        if item["status"] == "done":
            assert item["report"]["citations"], item
    assert 2 <= _max_open(done.stderr) <= 3, "runs did not overlap, or ran past --concurrency"

    # Every task is a run of its own in the store, with the batch's options saved.
    listed = ponder("runs", home=tmp_path).stdout
    for item in items:
        assert item["run_id"] in listed
    shown = json.loads(ponder("show", items[0]["run_id"], "--json", home=tmp_path).stdout)
    assert shown["status"] == "done" and shown["task"] == _TASKS[0]

    # The failed run resumes from its checkpoint with the same options (a model
    # that now plans well) and finishes; the finished ones stay as they were.
    write_script(
        script,
        {"Planning": [_GOOD], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]},
    )
    failed_id = items[2]["run_id"]
    resumed = ponder("resume", failed_id, "--events", "jsonl", home=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    started = [e for e in events(resumed.stdout) if e["type"] == "step_started"]
    assert [e["tool"] for e in started] == ["corpus_search"], "the batch's --tools were lost"
    final = json.loads(ponder("show", failed_id, "--json", home=tmp_path).stdout)
    assert final["status"] == "done" and final["citations"]


def test_batch_passes_run_budgets_to_every_task(tmp_path: Path) -> None:
    """--max-model-calls reaches each run: one call allowed, so no run gets to synthesis."""
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [_GOOD], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]},
        repeat_last=True,
    )
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("\n".join(_TASKS[:2]) + "\n")
    done = ponder(
        "batch", str(tasks), "--model", f"script:{script}", "--corpus", str(CORPUS),
        "--tools", "corpus_search", "--max-model-calls", "1", "--jsonl",
        home=tmp_path, timeout=120,
    )  # fmt: skip
    items = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i["status"] for i in items] == ["budget_exhausted"] * 2, done.stderr[-2000:]
    assert done.returncode == 3
    for item in items:
        assert item["report"]["usage"]["model_calls"] == 1


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert proc.poll() is None, "the batch ended before it could be killed"
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {count} lines")


def test_killed_driver_resumes_its_batch_with_every_task_once(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [_GOOD], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]},
        repeat_last=True,
        latency_s=0.6,
    )
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("\n".join(f"Question {n} about asyncio gather" for n in range(6)) + "\n")
    out = tmp_path / "results.jsonl"
    proc = subprocess.Popen(
        [str(PONDER), "batch", str(tasks), "--model", f"script:{script}", "--corpus",
         str(CORPUS), "--tools", "corpus_search", "--concurrency", "2", "--out", str(out),
         "--batch-id", "kb"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path), cwd=REPO,
    )  # fmt: skip
    try:
        _wait_for_lines(out, 2, proc, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = [json.loads(line) for line in out.read_text().splitlines()]
    assert 2 <= len(before) < 6
    listed = ponder("runs", home=tmp_path).stdout
    assert "interrupted" in listed, "the runs the killed driver held still read as running"

    resumed = ponder("batch", "--resume", "kb", home=tmp_path, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{6 - len(before)} of 6 tasks to run" in resumed.stderr
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(i["index"] for i in after) == [1, 2, 3, 4, 5, 6], "a task is missing or twice"
    assert after[: len(before)] == before, "finished results were rewritten"
    assert {i["status"] for i in after} == {"done"}
    assert [i["run_id"] for i in sorted(after, key=lambda i: i["index"])] == [
        f"kb-{n:04d}" for n in range(1, 7)
    ]


_GATHER = CORPUS_CLAIMS["gather exceptions"]
_LONG = {
    "Planning": [_GOOD],
    "Outline": [
        {"title": "How gather fails", "sections": [{"title": "Errors", "evidence": ["s1.1"]}]}
    ],
    "Section": [{"claims": [{"text": _GATHER, "cites": ["s1.1"]}]}],
    "ReportSummary": [{"claims": [{"text": _GATHER, "cites": ["s1.1"]}]}],
}


def test_batch_writes_each_long_report_into_the_reports_folder(tmp_path: Path) -> None:
    script = write_script(tmp_path / "model.json", _LONG, repeat_last=True)
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("\n".join(_TASKS[:2]) + "\n")
    reports = tmp_path / "reports"
    done = ponder(
        "batch", str(tasks), "--model", f"script:{script}", "--corpus", str(CORPUS),
        "--tools", "corpus_search", "--report", "long", "--reports", str(reports),
        "--reports-format", "html", "--batch-id", "lr", "--jsonl",
        home=tmp_path, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    items = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i["status"] for i in items] == ["done", "done"]
    for item in items:
        assert [s["title"] for s in item["report"]["sections"]] == ["Errors"]
    written = sorted(p.name for p in reports.iterdir())
    assert written == ["lr-0001.html", "lr-0002.html"]
    page = (reports / "lr-0001.html").read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lstrip().lower().startswith("<html")
    assert "Errors" in page and "How gather fails" in page and "immediately" in page


def test_batch_checks_its_reports_folder_and_mcp_config_before_any_task(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.txt"
    tasks.write_text(_TASKS[0] + "\n")
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    common = ["batch", str(tasks), "--model", "demo", "--corpus", str(CORPUS)]
    bad_folder = ponder(*common, "--reports", str(taken / "sub"), home=tmp_path)
    assert bad_folder.returncode == 2
    assert bad_folder.stderr.startswith("ponder: error [config]: cannot create the --reports")
    bad_mcp = ponder(*common, "--mcp", str(tmp_path / "nope.json"), home=tmp_path)
    assert bad_mcp.returncode == 2
    assert bad_mcp.stderr.startswith("ponder: error [config]: cannot read the MCP config")
    assert ponder("runs", home=tmp_path).stdout.strip() == ""
