"""Corpus search over the Python 3.11 HTML docs: index time, latency, recall@5.

Copies Debian's python3.11-doc HTML (/usr/share/doc/python3.11/html) to a
temporary folder, indexes it cold through `tools.corpus.Corpus`, runs every
question of ``bench/corpus_queries.yaml`` through ``corpus_search`` and counts a
question as recalled when one of its pages is among the top 5 documents. Then
it edits one file and times the incremental re-index. Prints a table and
writes ``bench/results/corpus.json``.

With ``--semantic`` it also builds the semantic index (all-MiniLM-L6-v2 over
every chunk; many minutes on a small machine) and compares BM25 alone with BM25
fused with it, recall@1 and recall@5 for the keyword and the paraphrase queries
separately, writing ``bench/results/corpus_semantic.json``.

    .venv/bin/python bench/corpus_recall.py [--docs DIR] [--show-misses] [--semantic]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.corpus import Corpus, CorpusOptions  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
QUERIES = Path(__file__).with_name("corpus_queries.yaml")
RESULTS = Path(__file__).with_name("results") / "corpus.json"
SEMANTIC_RESULTS = RESULTS.with_name("corpus_semantic.json")
K = 5


def _copy_docs(src: Path, dst: Path) -> int:
    n = 0
    for path in src.rglob("*.html"):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        n += 1
    return n


def _rank(paths: list[str], expected: list[str]) -> int | None:
    for i, path in enumerate(paths, start=1):
        if path in expected:
            return i
    return None


async def _run_queries(corpus: Corpus, queries: list[dict]) -> tuple[list[dict], list[float]]:
    rows, latencies = [], []
    for item in queries:
        began = time.perf_counter()
        obs = await corpus.search(item["q"], K)
        latencies.append(time.perf_counter() - began)
        paths = list(dict.fromkeys(p.ref.split("#")[0] for p in obs.passages))
        rows.append(
            {
                "q": item["q"],
                "expected": item["pages"],
                "got": paths,
                "rank": _rank(paths, item["pages"]),
            }
        )
    return rows, latencies


def _recall(rows: list[dict], at: int) -> float:
    return round(sum(1 for r in rows if r["rank"] is not None and r["rank"] <= at) / len(rows), 3)


def _semantic(root: Path, index_dir: Path, queries: list[dict]) -> dict:
    """BM25 alone against BM25 fused with the semantic index, on one index file."""
    fts_bytes = _size(index_dir)
    fused = Corpus(CorpusOptions(root=root, index_dir=index_dir, semantic=True))
    began = time.perf_counter()
    fused.refresh()
    build_s = time.perf_counter() - began
    plain = Corpus(CorpusOptions(root=root, index_dir=index_dir))
    out: dict = {
        "model": "all-MiniLM-L6-v2 (numpy, 128 tokens a chunk)",
        "chunks": fused.index.count()[1],
        "semantic_build_s": round(build_s, 1),
        "fts_mb": round(fts_bytes / 1e6, 1),
        "with_vectors_mb": round(_size(index_dir) / 1e6, 1),
    }
    for name, corpus in (("bm25", plain), ("fused", fused)):
        rows, latencies = asyncio.run(_run_queries(corpus, queries))
        for kind in ("keyword", "paraphrase"):
            part = [
                r for r, q in zip(rows, queries, strict=True) if q.get("kind", "keyword") == kind
            ]
            out[f"{name}_{kind}"] = {
                "queries": len(part),
                "recall_at_1": _recall(part, 1),
                "recall_at_5": _recall(part, 5),
            }
        out[f"{name}_latency_median_ms"] = round(statistics.median(latencies) * 1000, 1)
        corpus.close()
    return out


def _size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.iterdir())


def _print_semantic(result: dict) -> None:
    print(f"semantic index: {result['model']}, {result['chunks']} chunks")
    print(
        f"  build {result['semantic_build_s']} s; index {result['fts_mb']} MB -> "
        f"{result['with_vectors_mb']} MB; median query "
        f"{result['bm25_latency_median_ms']} ms (bm25) / {result['fused_latency_median_ms']} ms"
    )
    heads = ("queries", "bm25 r@1", "bm25 r@5", "fused r@1", "fused r@5")
    print(f"  {'':<10}" + "".join(f"{h:>11}" for h in heads))
    for kind in ("keyword", "paraphrase"):
        b, f = result[f"bm25_{kind}"], result[f"fused_{kind}"]
        print(
            f"  {kind:<10}{b['queries']:>11}{b['recall_at_1']:>11.3f}{b['recall_at_5']:>11.3f}"
            f"{f['recall_at_1']:>11.3f}{f['recall_at_5']:>11.3f}"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--semantic", action="store_true", help="also measure the semantic index")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        sys.exit(f"{args.docs} not found: apt-get install python3.11-doc")
    all_queries = yaml.safe_load(QUERIES.read_text())["queries"]
    queries = [q for q in all_queries if q.get("kind", "keyword") == "keyword"]

    with tempfile.TemporaryDirectory(prefix="ponder-corpus-bench-") as tmp:
        root, index_dir = Path(tmp) / "docs", Path(tmp) / "index"
        files = _copy_docs(args.docs, root)
        corpus = Corpus(CorpusOptions(root=root, index_dir=index_dir))

        cold = corpus.refresh()
        n_files, n_chunks = corpus.index.count()
        warm = corpus.refresh()  # nothing changed: a stat walk only

        rows, latencies = asyncio.run(_run_queries(corpus, queries))

        # Incremental update: one page edited, one added, one removed.
        edited = root / "library" / "asyncio-task.html"
        edited.write_bytes(edited.read_bytes().replace(b"</body>", b"<p>edited</p></body>"))
        shutil.copy2(root / "library" / "json.html", root / "library" / "json-copy.html")
        (root / "library" / "aifc.html").unlink()
        incremental = corpus.refresh()
        corpus.close()
        index_bytes = _size(index_dir)
        semantic = _semantic(root, index_dir, all_queries) if args.semantic else None

    recalled = sum(1 for r in rows if r["rank"] is not None)
    mrr = statistics.fmean(1 / r["rank"] if r["rank"] else 0.0 for r in rows)
    result = {
        "docs": str(args.docs),
        "html_files": files,
        "indexed_files": n_files,
        "chunks": n_chunks,
        "index_mb": round(index_bytes / 1e6, 1),
        "index_s": round(cold.seconds, 2),
        "rescan_unchanged_s": round(warm.seconds, 3),
        "incremental_s": round(incremental.seconds, 3),
        "incremental": {
            "updated": incremental.updated,
            "added": incremental.added,
            "removed": incremental.removed,
        },
        "queries": len(rows),
        "recall_at_5": round(recalled / len(rows), 3),
        "mrr_at_5": round(mrr, 3),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 2),
        "latency_p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000, 2),
        "misses": [
            {"q": r["q"], "expected": r["expected"], "got": r["got"]}
            for r in rows
            if r["rank"] is None
        ],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    table = [
        ("HTML files / indexed / chunks", f"{files} / {n_files} / {n_chunks}"),
        ("index size", f"{result['index_mb']} MB"),
        ("cold index time", f"{result['index_s']} s"),
        ("rescan, nothing changed", f"{result['rescan_unchanged_s'] * 1000:.0f} ms"),
        ("incremental (1 edited, 1 added, 1 removed)", f"{result['incremental_s'] * 1000:.0f} ms"),
        ("queries", str(len(rows))),
        (f"recall@{K} (documents)", f"{result['recall_at_5']:.3f} ({recalled}/{len(rows)})"),
        (f"MRR@{K}", f"{result['mrr_at_5']:.3f}"),
        (
            "median / p95 query latency",
            f"{result['latency_median_ms']} / {result['latency_p95_ms']} ms",
        ),
    ]
    width = max(len(k) for k, _ in table)
    print(f"corpus_search over {args.docs}")
    for key, value in table:
        print(f"  {key:<{width}}  {value}")
    if args.show_misses:
        for miss in result["misses"]:
            print(f"  miss: {miss['q']!r}")
            print(f"        want {miss['expected']}\n        got  {miss['got']}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if semantic is not None:
        SEMANTIC_RESULTS.write_text(json.dumps(semantic, indent=2) + "\n")
        _print_semantic(semantic)
        print(f"wrote {SEMANTIC_RESULTS.relative_to(ROOT)}")
        result["semantic"] = semantic
    return result


if __name__ == "__main__":
    main()
