"""The README's main job, for real: the demo model over the bundled corpus, via the CLI."""

from __future__ import annotations

import pytest

from bench.cli_runner import CORPUS, check_corpus_run, ponder

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
    report = check_corpus_run(done, ("corpus_search", "read_document"))
    assert report["usage"]["model_calls"] >= 2
