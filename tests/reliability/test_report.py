"""The reliability report: its table from fixed results, and one cheap area run for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability import report as rr
from tests.reliability.budget_suite import BUDGET_CASES

FIXED = {
    "model": {"injected": 12, "survived": 11, "failures": {"hang": ["ran 99s"]}},
    "kill": {"kills": 4, "resumed_clean": 4, "steps_redone": 0, "results_lost": 0,
             "stores_intact": 4, "failures": {}},
    "concurrency": {
        "in_process": {
            "one_saver": {"runs": 20, "clean": 20, "database_locked": 0, "failures": []},
            "saver_per_run": {"runs": 20, "clean": 19, "database_locked": 1,
                              "failures": ["tok03: OperationalError: database is locked"]},
        },
        "processes": {"runs": 4, "clean": 4, "failures": []},
    },
    "sandbox": {"skipped": "no sandbox (bwrap missing)", "attacks_tried": 0},
    "ssrf": {"tried": 10, "refused": 10, "canary_hits": 2, "tools": ["fetch"], "failures": [],
             "note": "no Chromium, browser cases not run: not installed"},
    "budgets": {"tested": 7, "respected": 7, "failures": {}},
}  # fmt: skip


def cells(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_the_table_of_fixed_results() -> None:
    rows = [row for area, result in FIXED.items() for row in rr.rows_for(area, result)]
    table = cells(rr.format_table(rows))
    assert table[0] == ["area", "tried", "held", "failures"]
    assert table[2:] == [
        ["model faults injected / survived", "12", "11 survived", "1"],
        ["kill -9 / resumed clean", "4",
         "4 resumed; 0 steps redone, 0 results lost, 4 stores intact", "0"],
        ["20 runs at once in one process (one saver; a saver each) / clean", "40",
         "39 clean, 1 'database is locked'", "1"],
        ["4 processes on one store / clean", "4", "4 clean", "0"],
        # Skipped is not passed: no count, no zero failures.
        ["sandbox escapes tried / contained", "-", "skipped: no sandbox (bwrap missing)", "-"],
        ["SSRF attempts / refused (no Chromium, browser cases not run: not installed)", "10",
         "10 refused, 2 canary hits (fetch)", "2"],
        ["budgets tested / respected", "7", "7 respected", "0"],
    ]  # fmt: skip
    assert rr.failure_lines(FIXED) == [
        "model: hang: ran 99s",
        "concurrency: tok03: OperationalError: database is locked",
    ]


def test_a_crashed_suite_is_an_error_row() -> None:
    (row,) = rr.rows_for("tamper", {"error": "RuntimeError: boom"})
    assert (row.tried, row.held, row.failures) == (None, "ERROR: RuntimeError: boom", 1)


def test_the_budget_area_runs_through_the_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reliability.json"
    assert rr.main(["--only", "budgets", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = cells(printed.split("\n\n")[0])
    n = len(BUDGET_CASES)
    assert table[2:] == [["budgets tested / respected", str(n), f"{n} respected", "0"]]
    assert "total wall time" in printed
    report = json.loads(out.read_text())
    assert report["areas"]["budgets"]["failures"] == {}
    assert report["rows"] == [{"area": "budgets tested / respected", "tried": n,
                               "held": f"{n} respected", "failures": 0}]  # fmt: skip


def test_an_unknown_area_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        rr.main(["--only", "budgets,nope"])
    assert exc.value.code == 2
    assert "unknown areas: nope" in capsys.readouterr().err
