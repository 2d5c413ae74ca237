"""`ponder run --samples N` through the real CLI: candidates, the vote, events, errors."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli_runner import CORPUS, events, ponder, write_script
from tests.conftest import planning, step, synthesis

# What the first passage `corpus_search` finds for "TaskGroup errors" says, word for word
# (taskgroup.md, "TaskGroup versus gather"), so the citation check keeps the claim.
CLAIM = (
    "Prefer a TaskGroup when the tasks belong together and a failure of one makes "
    "the others pointless."
)


def _script(tmp_path: Path) -> Path:
    return write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(step("s1", "TaskGroup errors", tool="corpus_search"))],
            "Synthesis": [synthesis("s1.1", text=CLAIM)],
        },
        repeat_last=True,
    )


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run", "How does TaskGroup treat errors?", "--model", f"script:{_script(tmp_path)}",
        "--corpus", str(CORPUS), "--tools", "corpus_search", "--effort", "low", *extra,
    ]  # fmt: skip


def test_samples_report_every_candidate_and_the_vote(tmp_path: Path) -> None:
    done = ponder(*_args(tmp_path, "--samples", "3", "--json", "--run-id", "s3"), home=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    sampling = report["sampling"]
    assert sampling["samples"] == 3 and len(sampling["candidates"]) == 3
    assert list(sampling["vote"].values()) == [3]
    assert sampling["tool_calls_run"] == 1 and sampling["tool_calls_reused"] == 2
    assert report["answer"].startswith(CLAIM) and report["run_id"] == "s3"
    assert report["status"] == "done" and report["citation_check"]["unsupported"] == 0
    assert not any(c["error"] for c in sampling["candidates"])
    assert report["usage"]["model_calls"] == 6

    shown = ponder("show", "s3", home=tmp_path)
    assert "## Candidates (3 paths)" in shown.stdout


def test_samples_events_and_show_thinking(tmp_path: Path) -> None:
    streamed = ponder(*_args(tmp_path, "--samples", "2", "--events", "jsonl"), home=tmp_path)
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    votes = [e for e in events(streamed.stdout) if e["type"] == "vote"]
    assert len(votes) == 1 and votes[0]["chosen"] == 0 and len(votes[0]["candidates"]) == 2

    shown = ponder(*_args(tmp_path, "--samples", "2", "--show-thinking"), home=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    text = shown.stdout + shown.stderr
    assert "vote: path 0 chosen" in text and "path 1 [2 votes]" in text


def test_bad_samples_is_a_usage_error(tmp_path: Path) -> None:
    bad = ponder(*_args(tmp_path, "--samples", "zero"), home=tmp_path)
    assert bad.returncode == 2 and "--samples" in bad.stderr and "Traceback" not in bad.stderr


def test_plan_samples_run_the_critics_pick_and_report_it(tmp_path: Path) -> None:
    """Two sampled plans search different words; the critic picks plan 2, and only its
    search runs (the report, the events and the piped lines all say which and why)."""
    plans = [
        planning(step("s1", "TaskGroup errors", tool="corpus_search")),
        planning(step("s1", "TaskGroup versus gather", tool="corpus_search")),
    ]
    script = write_script(
        tmp_path / "plans.json",
        {
            "Planning": plans,
            "PlanPick": [{"chosen": 2, "reasons": "plan 2 compares both directly"}],
            "Synthesis": [synthesis("s1.1", text=CLAIM)],
        },
    )
    args = [
        "run", "How does TaskGroup treat errors?", "--model", f"script:{script}",
        "--corpus", str(CORPUS), "--tools", "corpus_search", "--effort", "low",
        "--plan-samples", "2",
    ]  # fmt: skip
    done = ponder(*args, "--json", "--run-id", "ps2", home=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    (plan,) = report["plans"]
    choice = plan["choice"]
    assert choice["by"] == "critic" and choice["samples"] == 2
    assert choice["reasons"] == "plan 2 compares both directly"
    chosen = choice["candidates"][choice["chosen"] - 1]["steps"][0]
    assert plan["steps"][0]["input"]["query"] in chosen
    assert report["usage"]["tool_calls"] == 1 and report["usage"]["model_calls"] == 4
    out = tmp_path / "trajectory.jsonl"
    exported = ponder("export", "ps2", "--format", "trajectory", "-o", str(out), home=tmp_path)
    assert exported.returncode == 0, exported.stderr[-2000:]
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["plans"][0]["choice"] == choice

    streamed = ponder(*args, "--events", "jsonl", home=tmp_path)
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    kinds = [e["type"] for e in events(streamed.stdout)]
    plan_events = [e for e in events(streamed.stdout) if e["type"] == "plan"]
    assert plan_events[0]["choice"]["chosen"] == choice["chosen"]
    assert kinds.index("plan") < kinds.index("step_started")

    shown = ponder(*args, "--show-thinking", home=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    text = shown.stdout + shown.stderr
    assert f"plan {choice['chosen']} of 2 sampled (critic)" in text
    assert "sampled plan 1 [" in text and "sampled plan 2 [" in text


def test_bad_plan_samples_is_a_usage_error(tmp_path: Path) -> None:
    bad = ponder(*_args(tmp_path, "--plan-samples", "0"), home=tmp_path)
    assert bad.returncode == 2 and "--plan-samples" in bad.stderr and "Traceback" not in bad.stderr
