"""Ponder over an OpenAI-compatible server: llama-cpp-python's, running the demo GGUF locally.

    pip install 'llama-cpp-python[server]'      # once
    python examples/openai_compatible_server.py

The example starts ``python -m llama_cpp.server`` on a free 127.0.0.1 port,
then reaches it exactly as it would reach vLLM, LocalAI or llama.cpp's own
``llama-server``: ``resolve_model("openai:NAME", base_url=...)`` gives a
``langchain-openai`` ``ChatOpenAI``, and structured output travels as a forced
tool call. Name the model as the server lists it at ``/v1/models``: a name
ending in ``.gguf`` tells Ponder the server decodes forced tool calls under a
grammar, so it sends plan schemas whose only possible output is a valid DAG.
The same from the command line::

    ponder run "..." --model openai:NAME --base-url URL/v1 --corpus examples/corpus

Expect about a minute or two on a laptop CPU.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from langchain_openai import ChatOpenAI

from agent import Settings, default_store_path, parse_event, resolve_model
from agent.models import DEMO_SEED, demo_gguf_path
from graphs import build_research_graph
from tools import CorpusOptions, corpus_tools

CORPUS = Path(__file__).resolve().parent / "corpus"
TASK = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_cpp_server(gguf: Path) -> Iterator[tuple[str, str]]:
    """Start the server; yield its base URL and the model id it lists; always stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    # A fixed seed makes the tiny model's replies, and so this example's output, repeatable.
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192",
               "--seed", str(DEMO_SEED)]  # fmt: skip
    # SIGTERM (a supervisor, `timeout`) should stop the server too, not orphan it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryFile() as log:  # the server logs a lot; a pipe could fill and block
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield url, _wait_ready(server, url, log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_ready(server: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-1500:]
            raise SystemExit(f"llama_cpp.server exited ({server.returncode}):\n{tail}")
        try:
            listed = httpx.get(f"{url}/models", timeout=2)
            if listed.status_code == 200:
                return str(listed.json()["data"][0]["id"])
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit("llama_cpp.server did not start within 120 s")


def main() -> None:
    index_dir = default_store_path(os.environ).parent / "corpus-index"
    tools = corpus_tools(CorpusOptions(root=CORPUS, index_dir=index_dir))
    with llama_cpp_server(demo_gguf_path()) as (url, name):
        print(f"llama_cpp.server is up at {url}, serving {Path(name).name}")
        model = resolve_model(f"openai:{name}", base_url=url)
        if not isinstance(model, ChatOpenAI):
            raise SystemExit(f"expected a ChatOpenAI, got {type(model).__name__}")
        print(f"model: {type(model).__name__} (a ChatOpenAI) -> {model.openai_api_base}")
        graph = build_research_graph(model, tools, settings=Settings(effort="medium"))
        out: dict[str, Any] = {}
        t0 = time.monotonic()
        for mode, chunk in graph.stream({"task": TASK}, stream_mode=["custom", "values"]):
            if mode == "values":
                out = chunk
            else:  # progress, from Ponder's typed events
                event = parse_event(chunk)
                what = getattr(event, "step_id", "") or getattr(event, "version", "")
                print(f"  [{time.monotonic() - t0:5.1f}s] {event.type} {what}", flush=True)

    print(f"\nTask: {TASK}\n")
    print(out["answer"].markdown)
    print(f"\nstatus: {out['status']} ({out['stop_reason']})")
    print(f"model calls through the server: {out['usage'].model_calls}")
    cited = sorted({c.source.split("#")[0] for c in out["answer"].citations})
    print(f"cited documents: {', '.join(cited) or 'none'}")


if __name__ == "__main__":
    main()
