"""Fixtures shared by the whole suite: recording tools, scripted plans and the CI skip rule."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import pytest
from langchain_core.tools import BaseTool

from agent.testing import plan_step, planning_reply
from bench.cli_runner import CORPUS_CLAIMS
from bench.postgres_server import PostgresServer, postgres_available
from bench.recording_tool import ToolLog, recording_tool

pytest_plugins = ["pytester"]

# Markers of tests that drive a real component. Under CI (the CI variable set, as
# `.ci/run` does) a skip of any of them is a failure: a green CI run must mean the
# security and end-to-end suites ran, not that their dependency was missing.
REAL_COMPONENT_MARKERS = (
    "browser",
    "sandbox",
    "demo_model",
    "postgres",
    "ray",
    "mcp",
    "pty",
    "semantic",
    "localweb",
)


# Where the hosted providers' SDKs send requests by default (Ollama's is a local port).
HOSTED_MODEL_HOSTS = frozenset({"api.openai.com", "api.anthropic.com"})
OLLAMA_DEFAULT_PORT = 11434


def _refuse_hosted(url: Any) -> None:
    if url.host in HOSTED_MODEL_HOSTS or url.port == OLLAMA_DEFAULT_PORT:
        pytest.fail(
            f"a test tried to call a real hosted model ({url.host}:{url.port}); fake it at the "
            "transport (a mock transport) or run a local fake server",
            pytrace=False,
        )


def _guard_transports(monkeypatch: pytest.MonkeyPatch, client_lib: Any) -> None:
    real_sync = client_lib.HTTPTransport.handle_request
    real_async = client_lib.AsyncHTTPTransport.handle_async_request

    def guarded_sync(self: Any, request: Any) -> Any:
        _refuse_hosted(request.url)
        return real_sync(self, request)

    async def guarded_async(self: Any, request: Any) -> Any:
        _refuse_hosted(request.url)
        return await real_async(self, request)

    monkeypatch.setattr(client_lib.HTTPTransport, "handle_request", guarded_sync)
    monkeypatch.setattr(client_lib.AsyncHTTPTransport, "handle_async_request", guarded_async)


@pytest.fixture(autouse=True)
def no_hosted_model_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach OpenAI, Anthropic or a default Ollama (as pydantic-ai's conftest).

    The real network transports of httpx (Ollama's SDK) and httpx2 (OpenAI's and
    Anthropic's) refuse those hosts with a test failure, a BaseException that no SDK retry
    swallows; mock transports and local servers are untouched. The keys are removed so the
    ``auto`` model spec cannot pick a hosted provider from the environment.
    """
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    for client_lib in (httpx, httpx2):
        _guard_transports(monkeypatch, client_lib)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and os.environ.get("CI")):
        return
    needs = [m for m in REAL_COMPONENT_MARKERS if item.get_closest_marker(m) is not None]
    if not needs or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"CI is set, so this {'/'.join(needs)} test must run, but it was skipped: {reason}. "
        f"Install what it needs (.ci/setup) or run without CI=1 to allow the skip."
    )


def step(
    sid: str, query: str, deps: tuple[str, ...] = (), tool: str = "lookup", **extra: Any
) -> dict[str, Any]:
    """A query step (the recording tool's input) built by the one plan-step builder."""
    return {**plan_step(sid, tool, {"query": query}, goal=f"find {query}", after=deps), **extra}


def planning(
    *steps: dict[str, Any], mode: str = "research", depth: str = "medium"
) -> dict[str, Any]:
    return planning_reply(*steps, mode=mode, depth=depth, reasoning="Break the task into lookups.")


def synthesis(
    *cites: str, quote: str = "", text: str = "A fact about the value."
) -> dict[str, Any]:
    """Claims citing ``cites``; the default text is supported by `recording_tool`'s answers
    ("Fact about a: the value of a is 1."), so the citation check keeps them."""
    return {
        "claims": [{"text": text, "cites": [c], "quote": quote} for c in cites],
        "gaps": [],
    }


def corpus_synthesis(*cites: tuple[str, str]) -> dict[str, Any]:
    """Claims citing (passage id, corpus query) pairs, each saying what the query's first
    passage in `CORPUS` says (`CORPUS_CLAIMS`), so the citation check verifies them."""
    return {
        "claims": [{"text": CORPUS_CLAIMS[query], "cites": [cite]} for cite, query in cites],
        "gaps": [],
    }


@pytest.fixture
def make_tool() -> Callable[..., tuple[BaseTool, ToolLog]]:
    return recording_tool


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL 15 server for the whole session (loopback only)."""
    if not postgres_available():
        pytest.skip("PostgreSQL 15 is not installed (apt-get install postgresql)")
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()
