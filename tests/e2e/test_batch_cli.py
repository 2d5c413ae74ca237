"""`ponder batch` end to end: several tasks at once, one failing, every run resumable."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import planning, synthesis
from tests.e2e.cli_runner import CORPUS, events, ponder, write_script

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
    rows = [line.split(" ", 1)[0] for line in stderr.splitlines() if " [" in line]
    first = {rid: rows.index(rid) for rid in set(rows)}
    last = {rid: len(rows) - 1 - rows[::-1].index(rid) for rid in set(rows)}
    return max(sum(first[r] <= i <= last[r] for r in first) for i in range(len(rows)))


def test_batch_runs_tasks_concurrently_and_each_run_resumes(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [_GOOD], "Synthesis": [synthesis("s1.1")]},
        by_task={"doomed": {"Planning": [_UNKNOWN_TOOL]}},
        repeat_last=True,
        latency_s=0.3,
    )
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("\n".join([*_TASKS[:2], "# a comment", *_TASKS[2:]]) + "\n")
    done = ponder(
        "batch", str(tasks), "--model", f"script:{script}", "--corpus", str(CORPUS),
        "--tools", "corpus_search", "--concurrency", "3", "--max-replans", "1",
        "--max-model-calls", "10", "--jsonl", home=tmp_path, timeout=180,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]  # the worst outcome: one run failed
    assert "Traceback" not in done.stderr
    items = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i["task"] for i in items] == _TASKS
    assert [i["status"] for i in items] == ["done", "done", "failed", "done"]
    assert "unknown tool 'no_such_tool'" in items[2]["error"]
    assert "batch: done 3 / failed 1 / unanswered 0" in done.stderr
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
    write_script(script, {"Planning": [_GOOD], "Synthesis": [synthesis("s1.1")]})
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
        {"Planning": [_GOOD], "Synthesis": [synthesis("s1.1")]},
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
