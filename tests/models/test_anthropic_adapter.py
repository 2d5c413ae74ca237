"""ChatAnthropic as the resolver builds it, against a faked HTTP transport (no network).

langchain-anthropic takes no client argument; it builds its HTTP clients in
``_get_default_(async_)httpx_client``, which is where the fake transport goes in.
"""

from __future__ import annotations

from typing import Any

import anthropic
import langchain_anthropic.chat_models as anthropic_chat
import pytest

from agent.models.failures import classify_model_error
from agent.models.resolve import resolve_model, structured_method
from tests.models.transports import FakeProvider, anthropic_sse

KEY = "sk-ant-api03-abcdefghijklmnop"
VERDICT = {
    "title": "Verdict",
    "description": "Judge a claim.",
    "type": "object",
    "properties": {"supported": {"type": "boolean"}, "kind": {"enum": ["fact", "opinion"]}},
    "required": ["supported", "kind"],
}


def message(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 4},
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider = FakeProvider()

    def clients(*, base_url: str | None, **_: Any) -> Any:
        return provider.httpx2_clients(base_url or "https://api.anthropic.com")

    monkeypatch.setattr(anthropic_chat, "_get_default_httpx_client", lambda **kw: clients(**kw)[0])
    monkeypatch.setattr(
        anthropic_chat, "_get_default_async_httpx_client", lambda **kw: clients(**kw)[1]
    )
    return provider


def model() -> Any:
    return resolve_model(
        "anthropic:claude-haiku-4-5", env={"ANTHROPIC_API_KEY": KEY}, max_tokens=256
    )


def test_plain_chat_request_and_reply(fake: FakeProvider) -> None:
    fake.queue(message([{"type": "text", "text": "Paris."}]))
    reply = model().invoke([("system", "Be brief."), ("human", "Capital of France?")])
    path, body = fake.requests[0]
    assert path == "/v1/messages"
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 256
    assert body["system"] == "Be brief." or body["system"][0]["text"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert reply.content == "Paris."
    assert reply.usage_metadata["input_tokens"] == 12
    assert reply.usage_metadata["output_tokens"] == 4


async def test_streaming_reports_usage(fake: FakeProvider) -> None:
    events = [
        {
            "type": "message_start",
            "message": {**message([]), "usage": {"input_tokens": 9, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"input_tokens": 9, "output_tokens": 3},
        },  # the final, cumulative usage
        {"type": "message_stop"},
    ]
    fake.queue(anthropic_sse(*events), content_type="text/event-stream")
    parts = [p async for p in model().astream("hi")]
    assert fake.last["stream"] is True
    total = parts[0]
    for p in parts[1:]:
        total += p
    assert total.text == "Hello"
    assert total.usage_metadata["input_tokens"] == 9
    assert total.usage_metadata["output_tokens"] == 3


def test_function_calling_structured_output(fake: FakeProvider) -> None:
    chat = model()
    assert structured_method(chat) == "function_calling"
    fake.queue(
        message(
            [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Verdict",
                    "input": {"supported": True, "kind": "fact"},
                }
            ],
            stop="tool_use",
        )
    )
    value = chat.with_structured_output(VERDICT, method="function_calling").invoke("Water is wet.")
    body = fake.last
    assert body["tools"][0]["name"] == "Verdict"
    assert body["tools"][0]["input_schema"]["properties"] == VERDICT["properties"]
    assert body["tool_choice"] == {"type": "tool", "name": "Verdict"}
    assert value == {"supported": True, "kind": "fact"}


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, "rate_limited", True),
        (529, "server_error", True),
        (500, "server_error", True),
        (401, "auth", False),
        (400, "bad_request", False),
    ],
)
def test_error_statuses(fake: FakeProvider, status: int, kind: str, retryable: bool) -> None:
    fake.queue(
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        status=status,
        retry_after="3",
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        model().invoke("hi")
    failure = classify_model_error(caught.value)
    assert (failure.kind, failure.status, failure.retryable) == (kind, status, retryable)
    assert failure.retry_after == 3.0


def test_429_then_200(fake: FakeProvider) -> None:
    chat = model()
    fake.queue(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        status=429,
        retry_after_ms="1500",
    )
    fake.queue(message([{"type": "text", "text": "ok"}]))
    with pytest.raises(anthropic.RateLimitError) as caught:
        chat.invoke("hi")
    assert classify_model_error(caught.value).retry_after == 1.5
    assert chat.invoke("hi").content == "ok"
