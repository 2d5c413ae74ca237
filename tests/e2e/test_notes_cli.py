"""`ponder run --notes --fast-model`: the fast model's notes feed the writer; usage per role."""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import plan_step
from bench.cli_runner import CORPUS, ponder, write_script
from tests.conftest import planning

# As the model would copy it: the stored document breaks this sentence over two lines.
QUOTE = (
    "the first exception raised by any of the awaitables is immediately propagated "
    "to the code awaiting `gather()`."
)
CLAIM = (
    "The first exception raised by any of the awaitables is immediately propagated "
    "to the code awaiting gather()."
)


def test_two_scripted_models_split_the_roles_and_the_report_counts_each(tmp_path: Path) -> None:
    main = write_script(
        tmp_path / "main.json",
        {
            "Planning": [
                planning(plan_step("s1", "read_document", {"path": "tasks-and-gather.md"}))
            ],
            "Synthesis": [{"claims": [{"text": CLAIM, "cites": ["s1.1"]}], "gaps": []}],
        },
    )
    fast = write_script(
        tmp_path / "fast.json",
        {
            "Notes": [
                {
                    "notes": [
                        {"quote": QUOTE, "fact": "gather propagates the first exception"},
                        {"quote": "gather() cancels all the other awaitables", "fact": "invented"},
                    ]
                }
            ]
        },
    )
    done = ponder(
        "run", "How does gather treat exceptions?",
        "--model", f"script:{main}", "--fast-model", f"script:{fast}", "--notes",
        "--corpus", str(CORPUS), "--tools", "read_document", "--json",
        home=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["notes"] == 1, "the invented quote was dropped, the real one kept"
    roles = report["usage_by_role"]
    assert roles["model"]["model_calls"] == 2 and roles["fast_model"]["model_calls"] == 1
    assert roles["fast_model"]["input_tokens"] > 0
    assert report["usage"]["model_calls"] == 3
    (citation,) = report["citations"]
    assert citation["source"] == "tasks-and-gather.md"
    assert " ".join(citation["quote"].split()).casefold() == QUOTE.casefold()
    assert report["citation_check"]["supported"] == 1


def test_a_bad_fast_model_is_a_one_line_usage_error(tmp_path: Path) -> None:
    done = ponder(
        "run", "q", "--model", "demo", "--fast-model", "nonsense", "--search", "none",
        home=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--fast-model" in lines[0] and "nonsense" in lines[0], lines
    assert "Traceback" not in done.stderr
