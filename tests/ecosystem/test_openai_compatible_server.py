"""`openai:MODEL` + `base_url` against a real OpenAI-compatible server: llama-cpp-python's.

The server runs the demo GGUF in a subprocess on a free 127.0.0.1 port. Ponder
reaches it exactly as it would reach vLLM or Ollama's /v1: through the resolver,
with structured output by forced tool call (grammar-constrained on this server).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from agent.models.resolve import resolve_model, structured_method
from tests.ecosystem.llama_server import llama_server, server_missing

pytestmark = [
    pytest.mark.demo_model,
    pytest.mark.skipif(
        server_missing(), reason="needs llama-cpp-python[server] and the demo model"
    ),
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_server(log) as (url, _name):
        yield url


class Verdict(BaseModel):
    """Judge whether a claim is supported."""

    supported: bool
    kind: Literal["fact", "opinion", "unknown"]
    confidence: int | None = Field(description="0 to 10, if known")
    reason: str = Field(max_length=80)


@pytest.fixture(scope="module")
def model(server_url: str) -> Any:
    chat = resolve_model(
        "openai:demo", base_url=server_url, env={}, max_tokens=200, temperature=0.2
    )
    assert isinstance(chat, ChatOpenAI)
    return chat


def test_plain_chat_reports_usage(model: Any) -> None:
    reply = model.invoke("What is the capital of France?", max_tokens=24)
    assert isinstance(reply, AIMessage) and reply.content
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 24


def test_structured_output_by_forced_tool_call_is_schema_valid(model: Any) -> None:
    method = structured_method(model)
    assert method == "function_calling"
    structured = model.with_structured_output(Verdict, method=method, include_raw=True)
    for claim in ("The sky is green.", "Cats are better than dogs.", "Water is wet."):
        out = structured.invoke(f"Claim: {claim}")
        assert out["parsing_error"] is None, out["raw"]
        assert isinstance(out["parsed"], Verdict)
        raw = out["raw"]
        assert raw.tool_calls[0]["name"] == "Verdict"
        assert raw.usage_metadata is not None and raw.usage_metadata["output_tokens"] > 0


def test_dict_schema_the_way_the_structured_layer_sends_it(model: Any) -> None:
    schema = {**Verdict.model_json_schema(), "title": "Verdict"}
    value = model.with_structured_output(schema, method="function_calling").invoke(
        "Claim: fire is cold."
    )
    assert Verdict.model_validate(value)


async def test_streaming_text_and_partial_structured_output(model: Any) -> None:
    chunks = [c async for c in model.astream("Name three colours.", max_tokens=20)]
    assert len(chunks) > 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks).strip()
    structured = model.with_structured_output(
        Verdict.model_json_schema(), method="function_calling"
    )
    parts = [p async for p in structured.astream("Claim: the moon is cheese.")]
    assert len(parts) > 1 and all(isinstance(p, dict) for p in parts)
    assert Verdict.model_validate(parts[-1])
