"""ChatOpenAI as the resolver builds it, against a faked HTTP transport (no network)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from langchain_core.messages import SystemMessage

from agent.models.failures import classify_model_error
from agent.models.resolve import resolve_model, structured_method
from tests.models.transports import FakeProvider, sse

KEY = "sk-test-abcdef0123456789"
VERDICT = {
    "title": "Verdict",
    "description": "Judge a claim.",
    "type": "object",
    "properties": {"supported": {"type": "boolean"}, "kind": {"enum": ["fact", "opinion"]}},
    "required": ["supported", "kind"],
}


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


def model_for(fake: FakeProvider, base_url: str | None = None) -> Any:
    sync, async_ = fake.httpx2_clients(base_url or "https://api.openai.com/v1")
    return resolve_model(
        "openai:gpt-4o-mini",
        base_url=base_url,
        env={"OPENAI_API_KEY": KEY},
        http_client=sync,
        http_async_client=async_,
    )


def test_plain_chat_request_and_reply(fake: FakeProvider) -> None:
    fake.queue(completion({"content": "Paris."}))
    reply = model_for(fake).invoke([SystemMessage("Be brief."), ("human", "Capital of France?")])
    path, body = fake.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert reply.content == "Paris."
    assert reply.usage_metadata["input_tokens"] == 21
    assert reply.usage_metadata["output_tokens"] == 7


async def test_streaming_asks_for_and_reports_usage(fake: FakeProvider) -> None:
    usage = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    fake.queue(
        sse(
            chunk({"role": "assistant", "content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            usage,
        ),
        content_type="text/event-stream",
    )
    parts = [c async for c in model_for(fake).astream("hi")]
    assert fake.last["stream"] is True
    assert fake.last["stream_options"] == {"include_usage": True}
    assert "".join(str(p.content) for p in parts) == "Hello"
    total = parts[0]
    for p in parts[1:]:
        total += p
    assert total.usage_metadata["input_tokens"] == 5
    assert total.usage_metadata["output_tokens"] == 2


def test_json_schema_structured_output(fake: FakeProvider) -> None:
    model = model_for(fake)
    assert structured_method(model) == "json_schema"
    fake.queue(completion({"content": json.dumps({"supported": False, "kind": "opinion"})}))
    value = model.with_structured_output(VERDICT, method="json_schema").invoke("Cats rule.")
    response_format = fake.last["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Verdict"
    assert response_format["json_schema"]["schema"]["properties"] == VERDICT["properties"]
    assert value == {"supported": False, "kind": "opinion"}


def test_function_calling_against_a_compatible_server(fake: FakeProvider) -> None:
    model = model_for(fake, base_url="http://127.0.0.1:8080/v1")
    assert structured_method(model) == "function_calling"
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "Verdict", "arguments": '{"supported": true, "kind": "fact"}'},
    }
    fake.queue(completion({"content": None, "tool_calls": [call]}, finish="tool_calls"))
    value = model.with_structured_output(VERDICT, method="function_calling").invoke("Water is wet.")
    path, body = fake.requests[0]
    assert path == "/v1/chat/completions"
    assert body["tools"][0]["function"]["name"] == "Verdict"
    assert body["tools"][0]["function"]["parameters"]["properties"] == VERDICT["properties"]
    assert body["tool_choice"]["function"]["name"] == "Verdict"
    assert value == {"supported": True, "kind": "fact"}


def test_429_then_200_is_classified_retryable_with_the_server_wait(fake: FakeProvider) -> None:
    model = model_for(fake)
    fake.queue(
        {"error": {"message": "Rate limit reached", "type": "requests"}},
        status=429,
        retry_after="7",
    )
    fake.queue(completion({"content": "ok"}))
    with pytest.raises(openai.RateLimitError) as caught:
        model.invoke("hi")
    failure = classify_model_error(caught.value)
    assert (failure.kind, failure.status, failure.retry_after, failure.retryable) == (
        "rate_limited",
        429,
        7.0,
        True,
    )
    assert model.invoke("hi").content == "ok"  # SDK retries are off: our layer decides
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (500, "server_error", True),
        (503, "server_error", True),
        (401, "auth", False),
        (400, "bad_request", False),
        (404, "bad_request", False),
    ],
)
def test_error_statuses(fake: FakeProvider, status: int, kind: str, retryable: bool) -> None:
    fake.queue({"error": {"message": f"failed with key {KEY}"}}, status=status)
    with pytest.raises(openai.APIStatusError) as caught:
        model_for(fake).invoke("hi")
    failure = classify_model_error(caught.value)
    assert (failure.kind, failure.status, failure.retryable) == (kind, status, retryable)
    assert KEY not in failure.message and "\n" not in failure.message


def test_dropped_connection_is_retryable(fake: FakeProvider) -> None:
    import httpx2

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    model = resolve_model(
        "openai:gpt-4o-mini",
        env={"OPENAI_API_KEY": KEY},
        http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)),
    )
    with pytest.raises(openai.APIConnectionError) as caught:
        model.invoke("hi")
    failure = classify_model_error(caught.value)
    assert failure.kind == "connection" and failure.retryable


def tool_delta(args: str, *, ident: str | None, name: str | None) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": args}
    if name is not None:
        function["name"] = name
    call: dict[str, Any] = {"index": 0, "type": "function", "function": function}
    if ident is not None:
        call["id"] = ident
    return chunk({"tool_calls": [call]})


@pytest.mark.parametrize("repeats", [False, True], ids=["openai-style", "llama-cpp-server-style"])
async def test_streamed_tool_call_gives_partial_dicts(fake: FakeProvider, repeats: bool) -> None:
    """llama-cpp-python's server repeats id and name in every delta; both shapes must work."""
    pieces = ['{"supp', 'orted": tr', 'ue, "kind"', ': "fact"}']
    deltas = [
        tool_delta(
            p,
            ident="call_9" if repeats or i == 0 else None,
            name="Verdict" if repeats or i == 0 else None,
        )
        for i, p in enumerate(pieces)
    ]
    fake.queue(
        sse(chunk({"role": "assistant", "content": None}), *deltas, chunk({}, "tool_calls")),
        content_type="text/event-stream",
    )
    model = model_for(fake, base_url="http://127.0.0.1:8080/v1")
    structured = model.with_structured_output(VERDICT, method="function_calling")
    parts = [p async for p in structured.astream("Water is wet.")]
    assert len(parts) > 1
    assert parts[-1] == {"supported": True, "kind": "fact"}
    assert all(set(p) <= {"supported", "kind"} for p in parts)


def _served(fake: FakeProvider, name: str) -> Any:
    sync, async_ = fake.httpx2_clients("http://127.0.0.1:8000/v1")
    return resolve_model(
        f"openai:{name}",
        base_url="http://127.0.0.1:8000/v1",
        env={},
        http_client=sync,
        http_async_client=async_,
    )


def test_a_grammar_server_gets_tool_schemas_its_converter_enforces(fake: FakeProvider) -> None:
    # A text field that may not open "{{": the raw pattern's [^{] would let an
    # unescaped quote end the JSON string early, and llama.cpp's stock converter
    # takes it as it is. The prepared schema keeps strings JSON-safe.
    schema = {
        "title": "Step",
        "description": "One step.",
        "type": "object",
        "properties": {"query": {"type": "string", "pattern": "^([^{]|[{][^{])*[{]?$"}},
        "required": ["query"],
    }
    call = {"id": "c1", "type": "function",
            "function": {"name": "Step", "arguments": json.dumps({"query": "gather"})}}  # fmt: skip
    for name in ("SmolLM2.Q4_1.gguf", "llama3.1-70b"):
        fake.queue(completion({"content": None, "tool_calls": [call]}, "tool_calls"))
        model = _served(fake, name).with_structured_output(schema, method="function_calling")
        assert model.invoke("plan") == {"query": "gather"}
    from agent.models._grammar import prepare_schema

    served, other = (body["tools"][0]["function"]["parameters"] for _, body in fake.requests)
    prepared = prepare_schema(schema)["properties"]
    assert served["properties"] == prepared != schema["properties"]
    assert '"' in served["properties"]["query"]["pattern"]  # the quote is excluded explicitly
    assert other["properties"] == schema["properties"]
