"""`ponder eval` through the real CLI: scores, results.json, the chart, and resuming."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.store import RunStore
from bench.cli_runner import CORPUS, REPO, ponder, write_script
from tests.conftest import planning, step

BUNDLED = REPO / "examples" / "eval" / "ponder-offline.jsonl"


def _dataset(tmp_path: Path) -> Path:
    items = [
        {"question": "Default switch interval?", "answers": ["5 ms"], "sources": ["gil.md"]},
        {"question": "Which PEP makes the GIL optional?", "answers": ["PEP 703"]},
        {"question": "Which version ships python3.13t?", "answers": ["3.13"], "sources": ["x.md"]},
    ]
    path = tmp_path / "set.jsonl"
    lines = [json.dumps({**i, "corpus": str(CORPUS)}) for i in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _script(tmp_path: Path) -> Path:
    answer = {
        "claims": [{"text": "The interval is 5 ms.", "cites": ["s1.1"], "quote": ""}],
        "gaps": [],
    }
    return write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(step("s1", "switch interval GIL", tool="corpus_search"))],
            "Synthesis": [answer],
        },
        repeat_last=True,
    )


def _runs(home: Path) -> int:
    with sqlite3.connect(home / "runs.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM ponder_runs").fetchone()[0])


def test_eval_scores_each_configuration_and_resumes_from_the_store(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path), tmp_path / "out"
    args = ["eval", str(data), "--model", f"script:{_script(tmp_path)}", "--out", str(out)]
    done = ponder(*args, "--effort", "low,medium", home=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    rows = {m["config"]["effort"]: m for m in results["metrics"]}
    assert set(rows) == {"low", "medium"}
    for row in rows.values():
        assert row["items"] == 3
        assert row["accuracy"] == pytest.approx(1 / 3)  # only "5 ms" is right
        assert row["citation_precision"] == pytest.approx(0.5)  # gil.md cited: right once
        assert row["citation_recall"] == pytest.approx(0.5)
        assert row["supported_claim_rate"] == 1.0
        assert row["model_calls"] >= 2 and row["tokens"] > 0
    assert (out / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 1 | low | 3 | 33% |" in done.stdout
    assert _runs(tmp_path) == 6

    # A second eval of the same dataset reads finished runs back and resumes an
    # interrupted one: no new run, same scores.
    store = RunStore(tmp_path / "runs.sqlite")
    cut = results["items"][0]["run_id"]
    store.set_status(cut, "interrupted")
    again = ponder(*args, "--effort", "low,medium", home=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _runs(tmp_path) == 6
    assert store.get(cut).status == "done"
    assert json.loads((out / "results.json").read_text())["metrics"] == results["metrics"]

    # The eval's runs carry their gold answers: export scores them.
    exported = tmp_path / "scored.jsonl"
    ok = ponder("export", "--all", "--min-score", "1", "-o", str(exported), home=tmp_path)
    assert ok.returncode == 0, ok.stderr
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(records) == 2 and all(r["eval"]["correct"] for r in records)


def test_eval_bad_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no answers"}\n', encoding="utf-8")
    done = ponder("eval", str(bad), home=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad.jsonl:1" in done.stderr


@pytest.mark.demo_model
def test_demo_model_runs_the_bundled_eval_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = ponder(
        "eval", str(BUNDLED), "--model", "demo", "--limit", "2", "--out", str(out),
        "--max-model-calls", "8", "--concurrency", "1", home=tmp_path, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert [m["items"] for m in results["metrics"]] == [2]
    # the demo model rarely gets a claim verified: any ending but a failure is complete
    assert all(i["status"] in ("done", "budget_exhausted", "unanswered") for i in results["items"])
    assert (out / "eval.png").exists()


def test_eval_compares_sample_counts(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path), tmp_path / "out"
    model = f"script:{_script(tmp_path)}"
    done = ponder(
        "eval", str(data), "--model", model, "--limit", "1", "--samples", "1,2",
        "--out", str(out), home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {
        m["config"]["samples"]: m for m in json.loads((out / "results.json").read_text())["metrics"]
    }
    assert set(rows) == {1, 2}
    assert rows[1]["model_calls"] == 2 and rows[2]["model_calls"] == 4  # two paths, two calls each
    assert rows[1]["accuracy"] == rows[2]["accuracy"] == 1.0
