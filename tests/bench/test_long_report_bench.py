"""The short-vs-long benchmark runs end to end on the local web (three pages, no latency)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.localweb import PYTHON_DOCS
from bench.long_report import run_once

pytestmark = pytest.mark.skipif(
    not PYTHON_DOCS.is_dir(), reason="Debian's python3.11-doc is not installed (.ci/setup does)"
)


def test_the_long_report_row_reads_cites_and_verifies(tmp_path: Path) -> None:
    row = run_once("long", pages=3, latency_s=0.0, home=tmp_path)
    assert row["status"] == "done" and row["pages_read"] == 3
    assert row["sections"] >= 1 and row["model_calls_by_node"]["write_report"] >= 3
    assert 2 <= row["sources_cited"] <= 3
    assert row["citations_verified"] == row["citations_checked"] > 0


def test_notes_go_to_the_fast_model_and_every_page_is_noted(tmp_path: Path) -> None:
    row = run_once("long", pages=3, latency_s=0.0, home=tmp_path, notes=True, fast_latency_s=0.0)
    assert row["status"] == "done" and row["pages_read"] == row["pages_noted"] == 3
    assert row["model_calls"]["fast_model"] == 3  # one notes call a page, none by the main model
    assert row["model_calls_by_node"]["notes"] == 3
    assert row["citations_verified"] == row["citations_checked"] > 0
