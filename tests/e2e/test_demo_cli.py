"""The README's main job, for real: the demo model over the bundled corpus, via the CLI."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cli_runner import CORPUS, ponder

pytestmark = pytest.mark.demo_model

TASK = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"


def test_demo_model_researches_the_corpus_and_cites_it(tmp_path) -> None:
    done = ponder(
        "run",
        TASK,
        "--model",
        "demo",
        "--corpus",
        str(CORPUS),
        "--effort",
        "medium",
        "--tools",
        "corpus_search,read_document",
        "--json",
        home=tmp_path,
    )
    assert done.returncode in (0, 3), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["status"] in ("done", "budget_exhausted")
    plan = report["plans"][0]
    assert plan["steps"], "the demo model wrote no plan steps"
    ids = [s["id"] for s in plan["steps"]]
    assert len(set(ids)) == len(ids)
    for s in plan["steps"]:
        assert s["tool"] in ("corpus_search", "read_document")
        assert set(s["depends_on"]) <= set(ids[: ids.index(s["id"])])
    assert report["citations"], "the answer cites nothing"
    files = {p.name for p in CORPUS.iterdir()}
    for c in report["citations"]:
        assert c["source"].split("#")[0] in files, c["source"]
        assert c["quote"].strip()
    assert report["usage"]["model_calls"] >= 2
