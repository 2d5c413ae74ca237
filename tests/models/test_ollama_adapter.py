"""ChatOllama as the resolver builds it, against a faked HTTP transport (no network).

The ollama client passes ``client_kwargs`` on to ``httpx.Client``, so the fake
goes in as ``transport``.
"""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import pytest

from agent.models.failures import classify_model_error
from agent.models.resolve import resolve_model, structured_method
from tests.models.transports import FakeProvider, ndjson

VERDICT = {
    "title": "Verdict",
    "description": "Judge a claim.",
    "type": "object",
    "properties": {"supported": {"type": "boolean"}, "kind": {"enum": ["fact", "opinion"]}},
    "required": ["supported", "kind"],
}


def line(content: str, *, done: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "llama3",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        out.update(done_reason="stop", prompt_eval_count=11, eval_count=5)
    return out


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


def model(fake: FakeProvider) -> Any:
    transport = httpx.MockTransport(fake.httpx_handler())
    return resolve_model(
        "ollama:llama3",
        env={"OLLAMA_HOST": "gpu-box:11434"},
        client_kwargs={"transport": transport},
    )


def test_chat_request_stream_and_usage(fake: FakeProvider) -> None:
    fake.queue(
        ndjson(line("Par"), line("is."), line("", done=True)), content_type="application/x-ndjson"
    )
    reply = model(fake).invoke([("system", "Be brief."), ("human", "Capital of France?")])
    path, body = fake.requests[0]
    assert path == "/api/chat"
    assert body["model"] == "llama3"
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
    ]
    assert reply.content == "Paris."
    assert reply.usage_metadata["input_tokens"] == 11
    assert reply.usage_metadata["output_tokens"] == 5


def test_json_schema_goes_to_the_format_field(fake: FakeProvider) -> None:
    chat = model(fake)
    assert structured_method(chat) == "json_schema"
    fake.queue(
        ndjson(line('{"supported": false, '), line('"kind": "opinion"}'), line("", done=True)),
        content_type="application/x-ndjson",
    )
    value = chat.with_structured_output(VERDICT, method="json_schema").invoke("Cats rule.")
    assert fake.last["format"]["properties"] == VERDICT["properties"]
    assert value == {"supported": False, "kind": "opinion"}


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [(500, "server_error", True), (429, "rate_limited", True), (404, "bad_request", False)],
)
def test_error_statuses(fake: FakeProvider, status: int, kind: str, retryable: bool) -> None:
    fake.queue({"error": "model 'llama3' not found"}, status=status)
    with pytest.raises(ollama.ResponseError) as caught:
        model(fake).invoke("hi")
    failure = classify_model_error(caught.value)
    assert (failure.kind, failure.status, failure.retryable) == (kind, status, retryable)
    assert "not found" in failure.message


def test_server_not_running_is_a_connection_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    chat = resolve_model("ollama:llama3", client_kwargs={"transport": httpx.MockTransport(refuse)})
    # ollama's streaming path lets httpx's error through; its non-streaming one wraps it.
    with pytest.raises((ConnectionError, httpx.ConnectError)) as caught:
        chat.invoke("hi")
    failure = classify_model_error(caught.value)
    assert failure.kind == "connection" and failure.retryable
