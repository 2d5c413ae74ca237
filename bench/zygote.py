"""A fork server per framework: every repetition runs in a fresh process, imports done.

Importing LangGraph, LangChain or smolagents takes seconds on this machine;
paying that per repetition would eat the time budget. So the parent starts
one zygote per framework (``python -m bench.zygote ENGINE``), which imports
only that framework's modules, then forks a child per job: each repetition
gets a fresh process (fresh state, its own memory figures) without the import
time. The zygote never starts a thread, so forking it is safe.

Protocol (one JSON object per line): the zygote prints ``{"ready": ...}``,
then answers each job read from stdin with one result line. A child writes
its result to a pipe; its stdout goes to stderr so stray prints cannot
corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

__all__ = ["Zygote"]

ROOT = Path(__file__).resolve().parent.parent


def _warm(engine: str) -> None:
    """Import what the engine's runs import, without running anything."""
    from bench.engines import MODULES

    importlib.import_module("bench.runs")
    importlib.import_module(f"bench.engines.{MODULES[engine]}")
    for shared in ("tools.fetch", "tools.code", "bench.overhead"):  # the real-tools variant
        importlib.import_module(shared)
    if engine == "ponder":
        # Ponder's first structured call imports the OpenAI, Anthropic and Ollama
        # SDKs (to test the model's type); do it here, like any other import.
        # The cold-start section times that first call on its own.
        from agent.models.resolve import structured_method
        from agent.testing import ScriptedChatModel

        structured_method(ScriptedChatModel())
        importlib.import_module("langgraph.checkpoint.sqlite.aio")
    if engine == "langchain":
        importlib.import_module("langgraph.checkpoint.sqlite.aio")


def _child(job: dict[str, Any], kind: str, out_fd: int) -> None:
    os.dup2(2, 1)  # the protocol owns the zygote's stdout
    try:
        if kind == "overhead":
            from bench.overhead import measure_overhead

            payload: Any = measure_overhead(job)
        elif kind == "drift":
            from bench.overhead import measure_drift

            payload = measure_drift(job)
        else:
            from bench.runs import Job, execute

            payload = asdict(execute(Job(**job)))
        data = json.dumps({"ok": payload}).encode()
    except BaseException as exc:  # report anything, the parent decides
        data = json.dumps({"error": f"{type(exc).__name__}: {exc}"[:1000]}).encode()
    with os.fdopen(out_fd, "wb") as out:
        out.write(data)
    os._exit(0)


def _read_all(fd: int, timeout_s: float) -> bytes | None:
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def serve(engine: str) -> None:
    started = time.perf_counter()
    _warm(engine)
    if threading.active_count() != 1:
        raise RuntimeError("the zygote started a thread; forking it would be unsafe")
    print(json.dumps({"ready": engine, "import_s": time.perf_counter() - started}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        job, kind = request["job"], request.get("kind", "run")
        timeout_s = float(request.get("timeout_s", 300.0))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(job, kind, write_fd)
        os.close(write_fd)
        data = _read_all(read_fd, timeout_s)
        os.close(read_fd)
        if data is None:
            os.kill(pid, signal.SIGKILL)
            answer = {"error": f"timed out after {timeout_s:.0f}s"}
        else:
            answer = json.loads(data) if data else {"error": "the child died without a result"}
        os.waitpid(pid, 0)
        print(json.dumps(answer), flush=True)


def _pipes(proc: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    if proc.stdin is None or proc.stdout is None:
        raise RuntimeError("the zygote was started without pipes")
    return proc.stdin, proc.stdout


class Zygote:
    """The parent's handle on one fork server."""

    def __init__(self, engine: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.engine = engine
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.zygote", engine],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._stdin, self._stdout = _pipes(self.proc)
        hello = json.loads(self._stdout.readline() or "{}")
        if hello.get("ready") != engine:
            raise RuntimeError(f"the {engine} zygote did not start")
        self.import_s = float(hello["import_s"])

    def call(self, job: dict[str, Any], *, kind: str = "run", timeout_s: float = 300.0) -> Any:
        """Run one job in a fresh child; the payload, or raise with the child's error."""
        request = {"job": job, "kind": kind, "timeout_s": timeout_s}
        self._stdin.write(json.dumps(request) + "\n")
        self._stdin.flush()
        answer = json.loads(self._stdout.readline() or '{"error": "the zygote died"}')
        if "error" in answer:
            raise RuntimeError(f"{self.engine}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        self._stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve(sys.argv[1])
