"""Answer scoring and the bundled eval set's gold data."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from agent.scoring import claim_counts, normalize_answer, score_answer, short_answer, source_match
from agent.state import Citation

REPO = Path(__file__).resolve().parents[2]


def test_normalisation_and_matches() -> None:
    assert normalize_answer("The  PEP-703!") == "pep 703"
    assert score_answer("PEP 703", ["pep 703"]).exact
    assert score_answer("It is PEP 703, from 2023 [1]", ["PEP 703"]).contains
    assert not score_answer("PEP 7030", ["PEP 703"]).correct
    assert score_answer("about 1,000.4 requests", ["1000"]).numeric
    assert not score_answer("about 1,020 requests", ["1000"]).numeric
    assert not score_answer("", ["x"]).correct


def test_claims_are_read_back_from_the_answer_markdown() -> None:
    md = "Five ms. [1][2]\n\nA guess. *(unsupported)*\n\n**Sources**\n[1] gil.md\n    > q"
    assert claim_counts(md).supported == 1 and claim_counts(md).unsupported == 1
    assert short_answer(md) == "Five ms."


def test_citation_precision_and_recall() -> None:
    cites = [
        Citation(n=1, passage_id="s1.1", source="/c/gil.md", quote="q"),
        Citation(n=2, passage_id="s2.1", source="/c/queues.md", quote="q"),
    ]
    assert source_match(cites, ["gil.md", "taskgroup.md"]) == (0.5, 0.5)


def _text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", raw)) if path.suffix == ".html" else raw


def test_bundled_eval_set_gold_answers_are_in_gold_pages() -> None:
    path = REPO / "examples" / "eval" / "ponder-offline.jsonl"
    items = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(items) >= 60
    assert len({i["question"] for i in items}) == len(items)
    for item in items:
        root = path.parent / (item.get("corpus") or item["local_web"])
        if not root.is_dir():
            pytest.skip(f"{root} is not installed (apt python3.11-doc)")
        page = _text(root / item["sources"][0])
        hits = [a for a in item["answers"] if a.lower() in page.lower()]
        assert hits, f"no gold answer of {item['question']!r} in {item['sources'][0]}"
