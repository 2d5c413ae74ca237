"""Local documents as tools: ``corpus_search`` (BM25 over chunks) and ``read_document``.

A folder of Markdown, text and HTML files is indexed into SQLite FTS5 (see
`tools._corpus_index` for why FTS5) in a file under the caller's index
directory, and kept in step with the folder: changed files are re-indexed,
removed ones dropped, before a search if the last scan is older than
``rescan_s``. Both tools share one `Corpus`, so one index serves every step.

Every passage is an exact span of stored text: for a search hit, of its
section (``documents[ref]``), for ``read_document``, of the text returned. So
``documents[p.ref][p.start:p.end] == p.text`` always holds, and citation quotes
can be checked against ``documents``. File text is untrusted: a document can
carry a prompt injection as easily as a web page.

PDF is not supported: the light extractors (pypdf, pdfminer.six) lose reading
order and headings on real documents, and the good ones (PyMuPDF) are AGPL or
heavy. Convert PDFs to text or Markdown first.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.tools import BaseTool
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveInt,
    create_model,
    model_validator,
)

from agent.errors import ConfigError, CorpusError
from agent.observation import Observation
from tools._base import ObservingTool
from tools._corpus_index import (
    CorpusIndex,
    IndexConfig,
    SearchHit,
    StoredDocument,
    SyncReport,
)
from tools._corpus_observe import find_section, read_observation, search_observation
from tools._corpus_query import match_expression

if TYPE_CHECKING:
    from tools._corpus_semantic import SemanticIndex

__all__ = [
    "DEFAULT_EXCLUDE",
    "Corpus",
    "CorpusOptions",
    "CorpusSearchTool",
    "ReadDocumentTool",
    "SyncReport",
    "corpus_tools",
]

_FUSED_CANDIDATES = 60  # chunks each ranking contributes to the fusion

DEFAULT_EXCLUDE = (
    ".*",
    "node_modules",
    "__pycache__",
    "_static",  # Sphinx build output: assets and reST sources duplicating the HTML
    "_sources",
    "_images",
    "_downloads",
)


class CorpusOptions(BaseModel):
    """Where the corpus is, where its index lives, and how it is cut up."""

    model_config = ConfigDict(frozen=True)

    root: Path = Field(description="the folder of documents")
    index_dir: Path = Field(description="where the SQLite index file is kept")
    exclude: tuple[str, ...] = Field(
        default=DEFAULT_EXCLUDE, description="glob patterns matched against each path component"
    )
    max_file_bytes: PositiveInt = 5_000_000
    min_chunk_chars: PositiveInt = 300
    max_chunk_chars: PositiveInt = 1200
    rescan_s: NonNegativeFloat = Field(
        default=2.0, description="a search rescans the folder if the last scan is older"
    )
    per_document: PositiveInt = Field(default=2, description="most hits one search takes per file")
    max_read_chars: PositiveInt = Field(
        default=12_000, description="text read_document shows the model before truncating"
    )
    semantic: bool = Field(
        default=False,
        description="fuse BM25 with embedding similarity (needs ponder[semantic]; "
        "embeds every chunk once, a few chunks a second)",
    )

    @model_validator(mode="after")
    def _chunk_sizes(self) -> CorpusOptions:
        if self.max_chunk_chars < 2 * self.min_chunk_chars:
            raise ValueError("max_chunk_chars must be at least twice min_chunk_chars")
        return self

    def index_path(self) -> Path:
        """One index file per corpus folder, so two corpora never share one."""
        digest = hashlib.sha256(str(self.root.expanduser().resolve()).encode()).hexdigest()[:16]
        return self.index_dir / f"corpus-{digest}.sqlite"


class Corpus:
    """One indexed folder; the two corpus tools share it."""

    def __init__(self, options: CorpusOptions) -> None:
        root = options.root.expanduser()
        if not root.is_dir():
            raise CorpusError(f"corpus folder {root} does not exist or is not a folder")
        try:
            with os.scandir(root) as entries:
                next(entries, None)
        except OSError as exc:
            raise CorpusError(f"corpus folder {root} is not readable: {exc.strerror}") from exc
        try:
            options.index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the index folder {options.index_dir}: {exc}") from exc
        self.options = options
        self.root = root.resolve()
        self.semantic: SemanticIndex | None = None
        self._semantic_synced = False
        if options.semantic:
            from tools._corpus_semantic import SemanticIndex

            self.semantic = SemanticIndex(options.index_path())
        self.index = CorpusIndex(
            IndexConfig(
                root=self.root,
                db_path=options.index_path(),
                exclude=options.exclude,
                max_file_bytes=options.max_file_bytes,
                min_chunk_chars=options.min_chunk_chars,
                max_chunk_chars=options.max_chunk_chars,
                rescan_s=options.rescan_s,
            )
        )

    def refresh(self, *, force: bool = True) -> SyncReport:
        """Update the index now (e.g. before a run); searches also do this lazily."""
        report = self.index.sync(force=force)
        self._sync_semantic(report)
        return report

    def _sync_semantic(self, report: SyncReport) -> None:
        if self.semantic is not None and (
            not self._semantic_synced or report.added or report.updated or report.removed
        ):
            self.semantic.sync()
            self._semantic_synced = True

    async def arefresh(self, *, force: bool = True) -> SyncReport:
        return await asyncio.to_thread(self.index.sync, force=force)

    def close(self) -> None:
        self.index.close()

    # --- corpus_search ------------------------------------------------------------------

    async def search(self, query: str, k: int = 5, *, tool: str = "corpus_search") -> Observation:
        match = match_expression(query)
        if match is None:
            return Observation.failure(
                tool, "invalid_input", "the query has no searchable words; name the topic"
            )
        hits = await asyncio.to_thread(self._search, match, k, query)
        if not hits:
            return Observation.failure(
                tool, "no_results", f"no document in the corpus matches {query!r}", via="fts5"
            )
        return search_observation(tool, query, hits)

    def _search(self, match: str, k: int, query: str = "") -> list[SearchHit]:
        self._sync_semantic(self.index.sync())
        per_document = self.options.per_document
        if self.semantic is None:
            return self.index.search(match, k, per_document=per_document)
        from tools._corpus_semantic import fuse

        lexical = self.index.search(match, _FUSED_CANDIDATES, per_document=_FUSED_CANDIDATES)
        dense = self.semantic.rank(query or match, _FUSED_CANDIDATES)
        fused = fuse([h.chunk_id for h in lexical], [chunk for chunk, _ in dense])
        return self.index.chunk_hits(fused, k, per_document=per_document)

    # --- read_document ------------------------------------------------------------------

    def resolve(self, path: str) -> str | None:
        """The corpus-relative path, or None if it leaves the corpus folder."""
        parts = re.split(r"[/\\]+", path.strip())
        if path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", path) or ".." in parts:
            return None
        rel = PurePosixPath(*[p for p in parts if p not in ("", ".")])
        if not rel.parts:
            return None
        try:
            inside = (self.root / rel).resolve().is_relative_to(self.root)
        except OSError:
            return None
        return str(rel) if inside else None

    async def read(
        self, path: str, section: str | None = None, *, tool: str = "read_document"
    ) -> Observation:
        path = path.strip()
        if "#" in path:
            path, _, anchor = path.partition("#")
            section = section or anchor or None
        if not path:
            return Observation.failure(tool, "invalid_input", "`path` is empty")
        rel = self.resolve(path)
        if rel is None:
            return Observation.failure(
                tool, "refused", f"{path!r} is outside the corpus folder; use a relative path"
            )
        doc = await asyncio.to_thread(self._document, rel)
        if doc is None:
            exists = (self.root / rel).is_file()
            why = "is not an indexed document (Markdown, text or HTML)" if exists else "not found"
            return Observation.failure(
                tool, "not_found", f"{rel}: {why}; corpus_search lists documents"
            )
        if section is None or not section.strip():
            return read_observation(tool, doc, None, self.options.max_read_chars)
        index = find_section(doc.sections, section.strip())
        if index is None:
            listed = ", ".join(s.anchor for s in doc.sections if s.anchor)
            return Observation.failure(
                tool,
                "not_found",
                f"{rel} has no section {section!r}; its sections: {listed[:2000]}",
            )
        return read_observation(tool, doc, index, self.options.max_read_chars)

    def _document(self, rel: str) -> StoredDocument | None:
        self.index.sync()
        return self.index.document(rel)


class CorpusSearchArgs(BaseModel):
    query: str = Field(
        description="what to look for, in plain words (keywords or a question); "
        "no search operators are needed"
    )
    k: int = Field(default=5, ge=1, le=20, description="how many passages to return")


class ReadDocumentArgs(BaseModel):
    path: str = Field(
        description="a document's path relative to the corpus folder, as corpus_search "
        "shows it (a ref with #anchor reads that section)"
    )
    section: str | None = Field(
        default=None,
        description="optional: a section's anchor (the part after # in a corpus_search ref) "
        "or heading, to read only that section",
    )


class CorpusSearchTool(ObservingTool):
    """Finds the passages of the local corpus that best match a query (BM25)."""

    name: str = "corpus_search"
    description: str = (
        "Search the user's local documents (Markdown, text, HTML) and get the best "
        "matching passages, each with its path#section reference. Use it before the "
        "web for anything the user's own documents may answer."
    )
    args_schema: type[BaseModel] = CorpusSearchArgs
    corpus: Corpus

    async def observe(self, **kwargs: Any) -> Observation:
        query = kwargs.get("query")
        if not isinstance(query, str) or not query.strip():
            return Observation.failure(self.name, "invalid_input", "`query` must be text")
        k = kwargs.get("k", 5)
        if not isinstance(k, int) or not 1 <= k <= 20:
            return Observation.failure(self.name, "invalid_input", "`k` must be 1 to 20")
        try:
            return await self.corpus.search(query, k, tool=self.name)
        except Exception as exc:  # tool boundary: a broken index is an observation, not a crash
            return Observation.failure(self.name, "error", f"{type(exc).__name__}: {exc}")


class ReadDocumentTool(ObservingTool):
    """Returns a corpus document, or one section of it, with its paragraphs as passages."""

    name: str = "read_document"
    description: str = (
        "Read one document of the user's local corpus, or one section of it, by the "
        "path (and optional section anchor) that corpus_search returned."
    )
    args_schema: type[BaseModel] = ReadDocumentArgs
    corpus: Corpus

    async def observe(self, **kwargs: Any) -> Observation:
        path = kwargs.get("path")
        section = kwargs.get("section")
        if not isinstance(path, str) or (section is not None and not isinstance(section, str)):
            return Observation.failure(self.name, "invalid_input", "`path` must be text")
        try:
            return await self.corpus.read(path, section, tool=self.name)
        except Exception as exc:  # tool boundary: a broken index is an observation, not a crash
            return Observation.failure(self.name, "error", f"{type(exc).__name__}: {exc}")


_LISTED_PATHS = 100


def _read_args_for(paths: list[str]) -> type[BaseModel]:
    """``read_document``'s arguments with ``path`` limited to the corpus's documents.

    The planner reads the list; a grammar-constrained model cannot name a file
    that does not exist.
    """
    listed: Any = Literal[tuple(paths)]  # a Literal built at run time
    return create_model(
        "ReadDocumentArgs",
        path=(listed, Field(description="one of the corpus's documents")),
        section=(str | None, ReadDocumentArgs.model_fields["section"]),
    )


def corpus_tools(options: CorpusOptions | Corpus) -> list[BaseTool]:
    """``corpus_search`` and ``read_document`` over one shared index, indexed now.

    A small corpus (up to 100 documents) lists their paths in ``read_document``'s
    argument schema. Raises `CorpusError` if the folder is missing or unreadable.
    """
    corpus = options if isinstance(options, Corpus) else Corpus(options)
    corpus.refresh(force=False)
    paths = corpus.index.paths()
    reader = ReadDocumentTool(corpus=corpus)
    if 0 < len(paths) <= _LISTED_PATHS:
        reader = ReadDocumentTool(corpus=corpus, args_schema=_read_args_for(paths))
    return [CorpusSearchTool(corpus=corpus), reader]
