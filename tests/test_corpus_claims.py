"""The scripted answers' table of corpus claims stays true to the corpus.

CLI tests script answers that cite the first passage a query finds; if the
corpus or its ranking changes, those answers would be marked unsupported and
the tests would fail far from the cause. This test fails here instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.support import best_support
from bench.cli_runner import CORPUS, CORPUS_CLAIMS
from tools.corpus import CorpusOptions, corpus_tools


@pytest.mark.parametrize("query", sorted(CORPUS_CLAIMS))
def test_the_first_passage_says_the_claim(tmp_path: Path, query: str) -> None:
    options = CorpusOptions(root=CORPUS, index_dir=tmp_path / "index")
    search = next(t for t in corpus_tools(options) if t.name == "corpus_search")
    found = str(asyncio.run(search.ainvoke({"query": query})))
    first = found.split("\n[2] ")[0].split("\n[1] ", 1)[1]
    support = best_support(CORPUS_CLAIMS[query], first)
    assert support.supported, support.reason


def test_a_claim_the_passage_does_not_say_is_caught(tmp_path: Path) -> None:
    """Negative control: the table's check can fail."""
    options = CorpusOptions(root=CORPUS, index_dir=tmp_path / "index")
    search = next(t for t in corpus_tools(options) if t.name == "corpus_search")
    found = str(asyncio.run(search.ainvoke({"query": "gather"})))
    first = found.split("\n[2] ")[0].split("\n[1] ", 1)[1]
    assert not best_support(CORPUS_CLAIMS["gather exceptions"], first).supported
