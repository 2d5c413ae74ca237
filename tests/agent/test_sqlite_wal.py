"""SQLite files opened by several connections at once: the first switch to WAL must not fail.

Found by CI: ``ponder eval`` ran configurations concurrently, each opened the same new
corpus index, and one failed with "database is locked" from ``PRAGMA journal_mode=WAL``.
Each test opens one new file from many threads at once, many times; before the fix
about one trial in twenty failed.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent._internal.sqlite_wal import use_wal
from agent.store import RunStore
from tools.corpus import Corpus, CorpusOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "corpus"
THREADS, TRIALS = 6, 80


def _race(open_once: Callable[[], None]) -> list[str]:
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def one() -> None:
        start.wait()
        try:
            open_once()
        except Exception as exc:  # every failure is what the test reports
            errors.append(repr(exc))

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_many_first_opens_of_one_corpus_index_all_succeed(tmp_path: Path) -> None:
    failed: list[str] = []
    for trial in range(TRIALS):
        root, index = tmp_path / f"docs{trial}", tmp_path / f"index{trial}"
        shutil.copytree(EXAMPLES, root)

        def open_once(root: Path = root, index: Path = index) -> None:
            corpus = Corpus(CorpusOptions(root=root, index_dir=index))
            try:
                corpus.refresh(force=False)
            finally:
                corpus.close()

        failed += _race(open_once)
    assert failed == [], f"{len(failed)} opens failed, first: {failed[0]}"


def test_many_first_opens_of_one_run_store_all_succeed(tmp_path: Path) -> None:
    failed: list[str] = []
    for trial in range(TRIALS):
        path = tmp_path / f"runs{trial}.sqlite"
        failed += _race(lambda path=path: RunStore(path) and None)
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failed == [], f"{len(failed)} opens failed, first: {failed[0]}"


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.sqlite")
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        use_wal(conn, timeout_s=5)
