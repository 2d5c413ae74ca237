"""Start ``langgraph dev`` on the repo's langgraph.json, offline, and always stop it.

The server runs in a scratch folder, not the repo root: the in-memory runtime
pickles its threads and checkpoints into ``./.langgraph_api`` of its working
directory, which would dirty the checkout and leak state between test runs.
``--config`` still points at the repo's own ``langgraph.json``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.local_server import free_port, stop_group

REPO = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
READY_TIMEOUT_S = 90

# What keeps the dev server off the network: the CLI's analytics ping, the
# server's PyPI version check, LangSmith tracing. The license/metadata loop
# already stays off without a license key; --no-browser skips Studio.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
_URL = re.compile(r"API: \S*?(http://127\.0\.0\.1:\d+)")


def server_env(home: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith(("LANGSMITH_", "LANGCHAIN_"))
    }
    return {**clean, **OFFLINE_ENV, "PONDER_HOME": str(home), "PYTHONPATH": str(REPO)}


@contextmanager
def langgraph_dev(workdir: Path) -> Iterator[str]:
    """The base URL of a ready ``langgraph dev`` server; its process group dies on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "server.log"
    command = [
        str(LANGGRAPH), "dev", "--no-browser", "--no-reload",
        "--host", "127.0.0.1", "--port", str(free_port()),
        "--config", str(REPO / "langgraph.json"),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=server_env(workdir / "home"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so nothing outlives the test
        )
        try:
            yield _wait_ready(proc, log_path)
        finally:
            stop_group(proc, grace_s=15)


def _wait_ready(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"langgraph dev exited with {proc.returncode}:\n{log_tail(log_path)}"
            )
        # The server moves to another port if ours was taken meanwhile: read it back.
        found = _URL.search(re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace")))
        if found:
            try:
                if httpx.get(f"{found.group(1)}/ok", timeout=2).status_code == 200:
                    return found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"langgraph dev not ready in {READY_TIMEOUT_S}s:\n{log_tail(log_path)}")


def log_tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-chars:]
