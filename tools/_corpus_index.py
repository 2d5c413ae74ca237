# Over 400 lines: one SQLite FTS5 index (schema, incremental scan, query) whose parts
# share one connection and one schema version.
"""The persistent BM25 index behind ``corpus_search`` and ``read_document``.

Why SQLite FTS5 rather than ``bm25s``: it is in the standard library (no numpy),
persists to one file, updates incrementally (delete and insert one document's
chunks in a transaction), stores the exact text next to the index, and lets
several readers search while one writer updates, under WAL. bm25s would need
the whole index rebuilt and held in memory for every change.

Files are tracked by (path, mtime, size, sha256): a changed mtime or size makes
a file's hash be checked, and only a changed hash re-parses it. Sync runs in
the caller's thread (callers use ``asyncio.to_thread``); a lock keeps one sync
per process, and SQLite's write lock keeps one writer across processes.
(A little over 400 lines: the schema, sync and search share one connection
discipline and are clearer side by side. The optional semantic index lives in
`tools._corpus_semantic`, in the same file.)
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent._internal.sqlite_wal import use_wal
from tools._chunking import chunk_document, heading_path
from tools._corpus_parse import SUFFIXES, ParsedDocument, Section, parse_document

__all__ = [
    "CorpusIndex",
    "IndexConfig",
    "SearchHit",
    "StoredDocument",
    "SyncReport",
]

_SCHEMA_VERSION = "1"
_TOKENIZER = "porter unicode61 remove_diacritics 2"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sections(
    file_id INTEGER NOT NULL, ord INTEGER NOT NULL, anchor TEXT NOT NULL,
    heading TEXT NOT NULL, level INTEGER NOT NULL, start INTEGER NOT NULL,
    body INTEGER NOT NULL, "end" INTEGER NOT NULL, PRIMARY KEY(file_id, ord)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, section INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts
    USING fts5(path, title, body, tokenize='{_TOKENIZER}');
"""
# Column weights for bm25(): a word in a heading says more than one in the body.
_WEIGHTS = (1.5, 3.0, 1.0)
_BUSY_TIMEOUT_MS = 10_000
_CANDIDATES = 60  # chunks re-ranked per search
_DOCUMENT_BONUS = 0.1


@dataclass(frozen=True)
class IndexConfig:
    root: Path
    db_path: Path
    exclude: tuple[str, ...]
    max_file_bytes: int
    min_chunk_chars: int
    max_chunk_chars: int
    rescan_s: float


@dataclass(frozen=True)
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0  # unreadable, too large, or pointing outside the root
    seconds: float = 0.0


@dataclass(frozen=True)
class SearchHit:
    path: str
    anchor: str
    doc_title: str
    headings: tuple[str, ...]
    text: str  # the chunk, an exact substring of section_text
    start: int  # offsets of text within section_text
    end: int
    section_text: str
    score: float
    chunk_id: int = 0


@dataclass(frozen=True)
class StoredDocument:
    path: str
    title: str
    text: str
    sections: tuple[Section, ...]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    use_wal(conn, timeout_s=_BUSY_TIMEOUT_MS / 1000)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class CorpusIndex:
    """One corpus folder's index file; safe to share between threads and processes."""

    def __init__(self, config: IndexConfig) -> None:
        self.config = config
        self.root = config.root.resolve()
        self._sync_lock = threading.Lock()
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._last_scan = float("-inf")
        self._writer: sqlite3.Connection | None = None

    # --- connections -----------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.config.db_path)
            conn.isolation_level = None  # reads take explicit snapshots (_snapshot)
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        if self._writer is None:
            self.config.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(self.config.db_path)
            conn.isolation_level = None  # explicit BEGIN IMMEDIATE transactions
            conn.executescript(_SCHEMA)
            self._check_meta(conn)
            self._writer = conn
        return self._writer

    def close(self) -> None:
        with self._conns_lock:
            conns, self._all_conns = self._all_conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        with self._sync_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _check_meta(self, conn: sqlite3.Connection) -> None:
        """Drop the index if it was built by another schema, tokenizer or chunk size."""
        c = self.config
        wanted = {
            "schema": _SCHEMA_VERSION,
            "tokenizer": _TOKENIZER,
            "chunks": f"{c.min_chunk_chars}-{c.max_chunk_chars}",
            "root": str(self.root),
        }
        have = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if have == wanted:
            return
        conn.execute("BEGIN IMMEDIATE")
        for table in ("files", "sections", "chunks", "chunks_fts", "meta"):
            conn.execute(f"DELETE FROM {table}")
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", wanted.items())
        conn.execute("COMMIT")

    # --- sync ---------------------------------------------------------------------------

    def _excluded(self, rel_parts: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatch(part, pat) for part in rel_parts for pat in self.config.exclude)

    def _walk(self) -> Iterator[tuple[str, Path]]:
        """(relative posix path, absolute path) of each indexable file under the root."""
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            base = Path(dirpath)
            rel_dir = base.relative_to(self.root).parts
            dirnames[:] = sorted(d for d in dirnames if not self._excluded((*rel_dir, d)))
            for name in sorted(filenames):
                if Path(name).suffix.lower() not in SUFFIXES or self._excluded((*rel_dir, name)):
                    continue
                yield "/".join((*rel_dir, name)), base / name

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.root)
        except OSError:
            return False

    def sync(self, *, force: bool = False) -> SyncReport:
        """Bring the index up to date with the folder; skipped if scanned very recently."""
        with self._sync_lock:
            if not force and time.monotonic() - self._last_scan < self.config.rescan_s:
                return SyncReport()
            report = self._sync(self._open_writer())
            self._last_scan = time.monotonic()
            return report

    def _sync(self, conn: sqlite3.Connection) -> SyncReport:
        began = time.perf_counter()
        known = {
            row[0]: (row[1], row[2], row[3])
            for row in conn.execute("SELECT path, mtime_ns, size, sha256 FROM files")
        }
        counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0, "skipped": 0}
        seen: set[str] = set()
        for rel, path in self._walk():
            try:
                st = path.stat()
                if (path.is_symlink() and not self._inside(path)) or (
                    st.st_size > self.config.max_file_bytes
                ):
                    counts["skipped"] += 1
                    continue
                seen.add(rel)
                old = known.get(rel)
                if old is not None and old[:2] == (st.st_mtime_ns, st.st_size):
                    counts["unchanged"] += 1
                    continue
                raw = path.read_bytes()
            except OSError:
                counts["skipped"] += 1
                continue
            sha = hashlib.sha256(raw).hexdigest()
            if old is not None and old[2] == sha:
                with _transaction(conn):
                    conn.execute(
                        "UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                        (st.st_mtime_ns, st.st_size, rel),
                    )
                counts["unchanged"] += 1
                continue
            doc = parse_document(rel, raw)
            with _transaction(conn):
                self._replace(conn, rel, doc, (st.st_mtime_ns, st.st_size, sha))
            counts["updated" if old is not None else "added"] += 1
        for rel in known.keys() - seen:
            with _transaction(conn):
                _delete_file(conn, rel)
            counts["removed"] += 1
        return SyncReport(**counts, seconds=time.perf_counter() - began)

    def _replace(
        self, conn: sqlite3.Connection, rel: str, doc: ParsedDocument, stat: tuple[int, int, str]
    ) -> None:
        _delete_file(conn, rel)
        cur = conn.execute(
            "INSERT INTO files(path, mtime_ns, size, sha256, title, text) VALUES (?,?,?,?,?,?)",
            (rel, *stat, doc.title, doc.text),
        )
        file_id = cur.lastrowid
        conn.executemany(
            'INSERT INTO sections(file_id, ord, anchor, heading, level, start, body, "end")'
            " VALUES (?,?,?,?,?,?,?,?)",
            [
                (file_id, i, s.anchor, s.heading, s.level, s.start, s.body, s.end)
                for i, s in enumerate(doc.sections)
            ],
        )
        path_words = rel.replace("/", " ").replace("_", " ").replace("-", " ")
        chunks = chunk_document(
            doc, min_chars=self.config.min_chunk_chars, max_chars=self.config.max_chunk_chars
        )
        for chunk in chunks:
            title = " › ".join(_dedup_title(doc.title, heading_path(doc.sections, chunk.section)))
            cur = conn.execute(
                'INSERT INTO chunks(file_id, section, start, "end") VALUES (?,?,?,?)',
                (file_id, chunk.section, chunk.start, chunk.end),
            )
            conn.execute(
                "INSERT INTO chunks_fts(rowid, path, title, body) VALUES (?,?,?,?)",
                (cur.lastrowid, path_words, title, doc.text[chunk.start : chunk.end]),
            )

    # --- reading --------------------------------------------------------------------------

    def search(self, match: str, k: int, *, per_document: int = 2) -> list[SearchHit]:
        """The best ``k`` chunks for an FTS5 expression, at most ``per_document`` per file."""
        conn = self._reader()
        with _snapshot(conn):
            return self._search(conn, match, k, per_document)

    def _search(
        self, conn: sqlite3.Connection, match: str, k: int, per_document: int
    ) -> list[SearchHit]:
        rows = conn.execute(
            "SELECT c.id, c.file_id, bm25(chunks_fts, ?, ?, ?) AS score"
            " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
            " WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?",
            (*_WEIGHTS, match, max(k * 12, _CANDIDATES)),
        ).fetchall()
        # A document with several matching chunks is more likely about the topic:
        # each chunk gains a share of the scores of its document's other candidates.
        scores: dict[int, list[float]] = {}
        for _, file_id, score in rows:
            scores.setdefault(file_id, []).append(-score)
        bonus = {f: _DOCUMENT_BONUS * sum(v[1:]) for f, v in scores.items()}
        rows = sorted(rows, key=lambda row: row[2] - bonus[row[1]])
        return self._hits(
            conn, [(chunk, -float(score)) for chunk, _, score in rows], k, per_document
        )

    def chunk_hits(
        self, ranked: list[tuple[int, float]], k: int, *, per_document: int = 2
    ) -> list[SearchHit]:
        """Hits for chunk ids ranked elsewhere (semantic search, fusion), best first."""
        conn = self._reader()
        with _snapshot(conn):
            return self._hits(conn, ranked, k, per_document)

    def _hits(
        self, conn: sqlite3.Connection, ranked: list[tuple[int, float]], k: int, per_document: int
    ) -> list[SearchHit]:
        hits: list[SearchHit] = []
        taken: dict[int, int] = {}
        for chunk_id, score in ranked:
            row = conn.execute(
                'SELECT c.file_id, f.path, f.title, c.section, c.start, c."end"'
                " FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = ?",
                (chunk_id,),
            ).fetchone()
            if row is None or taken.get(row[0], 0) >= per_document:
                continue
            file_id, path, doc_title, section, start, end = row
            taken[file_id] = taken.get(file_id, 0) + 1
            sections = self._sections(conn, file_id, section)
            sec = sections[section]
            sec_text = conn.execute(
                "SELECT substr(text, ?, ?) FROM files WHERE id = ?",
                (sec.start + 1, max(sec.end, end) - sec.start, file_id),
            ).fetchone()[0]
            hits.append(
                SearchHit(
                    path=path,
                    anchor=sec.anchor,
                    doc_title=doc_title,
                    headings=_dedup_title(doc_title, heading_path(sections, section))[1:],
                    text=sec_text[start - sec.start : end - sec.start],
                    start=start - sec.start,
                    end=end - sec.start,
                    section_text=sec_text,
                    score=score,
                    chunk_id=chunk_id,
                )
            )
            if len(hits) >= k:
                break
        return hits

    def _sections(
        self, conn: sqlite3.Connection, file_id: int, upto: int | None = None
    ) -> tuple[Section, ...]:
        rows = conn.execute(
            'SELECT anchor, heading, level, start, body, "end" FROM sections'
            " WHERE file_id = ? AND ord <= ? ORDER BY ord",
            (file_id, upto if upto is not None else 1 << 62),
        ).fetchall()
        return tuple(Section(*row) for row in rows)

    def document(self, rel: str) -> StoredDocument | None:
        conn = self._reader()
        with _snapshot(conn):
            row = conn.execute(
                "SELECT id, title, text FROM files WHERE path = ?", (rel,)
            ).fetchone()
            if row is None:
                return None
            return StoredDocument(rel, row[1], row[2], self._sections(conn, row[0]))

    def paths(self) -> list[str]:
        """Every indexed document's corpus-relative path, sorted."""
        conn = self._reader()
        return [r[0] for r in conn.execute("SELECT path FROM files ORDER BY path")]

    def count(self) -> tuple[int, int]:
        """(files, chunks) in the index."""
        conn = self._reader()
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(files), int(chunks)


def _dedup_title(title: str, headings: tuple[str, ...]) -> tuple[str, ...]:
    """Title then headings, without repeating a top heading that equals the title."""
    rest = headings[1:] if headings and headings[0].strip() == title.strip() else headings
    return (title, *rest)


def _delete_file(conn: sqlite3.Connection, rel: str) -> None:
    row = conn.execute("SELECT id FROM files WHERE path = ?", (rel,)).fetchone()
    if row is None:
        return
    conn.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)", row
    )
    conn.execute("DELETE FROM chunks WHERE file_id = ?", row)
    conn.execute("DELETE FROM sections WHERE file_id = ?", row)
    conn.execute("DELETE FROM files WHERE id = ?", row)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back (and re-raised) on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so a search never sees a file half replaced by a sync."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
