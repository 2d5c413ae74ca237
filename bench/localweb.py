"""The offline web the deep-research tests and benchmark run on: the Python 3.11 docs.

Debian's python3.11-doc (installed by ``.ci/setup``) is 530 HTML pages with
links between them: served on 127.0.0.1 by `tools.localweb.LocalWeb` and
searched by `tools.localweb.LocalSearchBackend`, it is a small web on which
``web_search`` → ``fetch_url`` runs for real. ``ponder run --search local
--local-web DIR`` serves a folder itself; from the command line this module
serves the docs for a browser to look at, until interrupted:

    .venv/bin/python -m bench.localweb [--docs DIR] [--port N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from agent.errors import ConfigError
from tools.corpus import Corpus, CorpusOptions
from tools.localweb import LocalSearchBackend, LocalWeb, serve_folder

__all__ = ["PYTHON_DOCS", "python_docs_web"]

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")


def python_docs_web(
    index_dir: Path, *, docs: Path = PYTHON_DOCS, port: int = 0
) -> tuple[LocalWeb, LocalSearchBackend]:
    """The docs served on loopback and a search backend over them (indexed now)."""
    if not docs.is_dir():
        raise ConfigError(
            f"{docs} not found", hint="install Debian's python3.11-doc (.ci/setup does)"
        )
    web = serve_folder(docs, port)
    corpus = Corpus(CorpusOptions(root=docs, index_dir=index_dir))
    corpus.refresh(force=False)
    return web, LocalSearchBackend(corpus, web)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=PYTHON_DOCS)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        web = serve_folder(args.docs, args.port)
    except ConfigError as exc:
        sys.exit(f"localweb: {exc}")
    print(f"serving {web.folder} at {web.base_url} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        web.close()


if __name__ == "__main__":
    main()
