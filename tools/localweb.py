"""A "local web": a folder of HTML pages served on loopback, and a search engine over it.

`LocalWeb` serves a folder (a mirror of an intranet site, or the Python docs
for the offline tests and benchmark) on ``127.0.0.1``; `LocalSearchBackend`
answers ``web_search`` from the corpus index of the same folder (the FTS5 index
``corpus_search`` uses, so the folder is indexed once and incrementally) and
returns the pages' URLs on that server. Together they let ``web_search`` →
``fetch_url`` run for real (real HTTP, real extraction, the SSRF guard
opened explicitly with ``--allow-host``) without the internet.

One server per folder per process: `serve_folder` hands back the running one.
The port is stable (derived from the folder's path unless given), so a resumed
run in a new process finds its earlier search results at the same URLs.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.errors import ConfigError
from tools._corpus_index import SearchHit
from tools._corpus_query import match_expression
from tools._search_backends import NoResultsError, SearchOptions, SearchResult
from tools.corpus import Corpus

__all__ = ["LocalSearchBackend", "LocalWeb", "serve_folder"]

_HOST = "127.0.0.1"
_PORT_BASE, _PORT_SPAN = 20_000, 20_000
_SNIPPET_CHARS = 300


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the terminal a run is drawing on."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class LocalWeb:
    """A folder served read-only over HTTP on 127.0.0.1, in a daemon thread."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        folder = folder.expanduser()
        if not folder.is_dir():
            raise ConfigError(f"local web folder {folder} does not exist or is not a folder")
        self.folder = folder.resolve()
        handler = partial(_QuietHandler, directory=str(self.folder))
        self._server = _bind(handler, port or _stable_port(self.folder))
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://{_HOST}:{self.port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"localweb-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what ``--allow-host`` must name for fetch_url to read it."""
        return f"{_HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + quote(path.lstrip("/"))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        with _SERVED_LOCK:
            if _SERVED.get(self.folder) is self:
                del _SERVED[self.folder]


def _stable_port(folder: Path) -> int:
    digest = hashlib.sha256(str(folder).encode()).digest()
    return _PORT_BASE + int.from_bytes(digest[:4], "big") % _PORT_SPAN


def _bind(handler: Any, port: int) -> _Server:
    """A server on ``port``, or on any free port if that one is taken."""
    try:
        return _Server((_HOST, port), handler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise ConfigError(f"cannot serve the local web on {_HOST}:{port}: {exc}") from exc
    return _Server((_HOST, 0), handler)


_SERVED: dict[Path, LocalWeb] = {}
_SERVED_LOCK = threading.Lock()


def serve_folder(folder: Path, port: int = 0) -> LocalWeb:
    """The process's server for ``folder``, started on first use."""
    key = folder.expanduser().resolve()
    with _SERVED_LOCK:
        web = _SERVED.get(key)
        if web is None or (port and web.port != port):
            web = LocalWeb(key, port)
            _SERVED[key] = web
        return web


class LocalSearchBackend:
    """``web_search`` over a local web: BM25 over the folder's pages, their served URLs."""

    name = "local"

    def __init__(self, corpus: Corpus, web: LocalWeb) -> None:
        if corpus.root != web.folder:
            raise ConfigError("the local search index and the local web serve different folders")
        self.corpus = corpus
        self.web = web

    async def search(self, query: str, options: SearchOptions) -> list[SearchResult]:
        match = match_expression(query)
        if match is None:
            raise NoResultsError(f"{query!r} has no searchable words")
        hits = await asyncio.to_thread(self._hits, match, options.max_results)
        results = [
            SearchResult(
                title=" › ".join((hit.doc_title, *hit.headings[-1:])) or hit.path,
                url=self.web.url(hit.path),
                snippet=" ".join(hit.text.split())[:_SNIPPET_CHARS],
            )
            for hit in hits
        ]
        if not results:
            raise NoResultsError(f"no page of the local web matches {query!r}")
        return results

    def _hits(self, match: str, k: int) -> list[SearchHit]:
        self.corpus.index.sync()
        return self.corpus.index.search(match, k, per_document=1)
