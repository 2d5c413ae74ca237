"""classify_model_error: each SDK's exceptions, cause chains, Retry-After forms, key masking."""

from __future__ import annotations

import asyncio
import email.utils
import time

import anthropic
import httpx
import httpx2
import ollama
import openai
import pytest
from pydantic import ValidationError

from agent.errors import ModelCallError
from agent.models.failures import ModelFailure, classify_model_error


def openai_status(status: int, **headers: str) -> openai.APIStatusError:
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx2.Response(status, request=request, headers=headers)
    cls = {
        429: openai.RateLimitError,
        500: openai.InternalServerError,
        401: openai.AuthenticationError,
        400: openai.BadRequestError,
    }.get(status, openai.APIStatusError)
    return cls(f"Error code: {status}", response=response, body=None)


def test_openai_timeout_and_connection() -> None:
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    timeout = classify_model_error(openai.APITimeoutError(request=request))
    assert (timeout.kind, timeout.retryable, timeout.status) == ("timeout", True, None)
    dropped = classify_model_error(openai.APIConnectionError(request=request))
    assert (dropped.kind, dropped.retryable) == ("connection", True)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, "rate_limited", True),
        (500, "server_error", True),
        (502, "server_error", True),
        (408, "timeout", True),
        (409, "server_error", True),
        (401, "auth", False),
        (403, "auth", False),
        (400, "bad_request", False),
        (422, "bad_request", False),
    ],
)
def test_status_codes(status: int, kind: str, retryable: bool) -> None:
    failure = classify_model_error(openai_status(status))
    assert (failure.kind, failure.status, failure.retryable) == (kind, status, retryable)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert classify_model_error(openai_status(429, **headers)).retry_after == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = classify_model_error(openai_status(429, **{"retry-after": when})).retry_after
    assert wait is not None and 20 < wait <= 31


def test_anthropic_overloaded() -> None:
    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    response = httpx2.Response(529, request=request, headers={"retry-after": "4"})
    failure = classify_model_error(
        anthropic.InternalServerError("Overloaded", response=response, body=None)
    )
    assert (failure.kind, failure.status, failure.retry_after, failure.retryable) == (
        "server_error",
        529,
        4.0,
        True,
    )


def test_httpx_and_asyncio_errors() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:1")
    assert classify_model_error(httpx.ReadTimeout("slow", request=request)).kind == "timeout"
    assert classify_model_error(httpx.ConnectError("no", request=request)).kind == "connection"
    response = httpx.Response(503, request=request, headers={"retry-after": "2"})
    status = classify_model_error(httpx.HTTPStatusError("bad", request=request, response=response))
    assert (status.kind, status.status, status.retry_after) == ("server_error", 503, 2.0)
    assert classify_model_error(TimeoutError()).kind == "timeout"
    assert classify_model_error(ConnectionResetError("reset")).kind == "connection"


async def test_asyncio_wait_for_timeout() -> None:
    with pytest.raises(TimeoutError) as caught:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
    assert classify_model_error(caught.value).kind == "timeout"


def test_ollama_errors() -> None:
    failure = classify_model_error(ollama.ResponseError('{"error": "model not found"}', 404))
    assert (failure.kind, failure.status) == ("bad_request", 404)
    assert failure.message.startswith("model not found")
    assert classify_model_error(ollama.ResponseError("odd", -1)).kind == "unknown"


def test_the_cause_chain_is_searched() -> None:
    try:
        try:
            raise openai_status(429, **{"retry-after": "3"})
        except openai.RateLimitError as exc:
            raise ModelCallError("model call failed") from exc
    except ModelCallError as wrapped:
        failure = classify_model_error(wrapped)
    assert (failure.kind, failure.retry_after) == ("rate_limited", 3.0)


def test_unrecognised_errors_are_unknown_and_not_retried() -> None:
    failure = classify_model_error(KeyError("boom"))
    assert failure == ModelFailure(kind="unknown", message="'boom'")
    assert not failure.retryable


@pytest.mark.parametrize(
    "secret",
    [
        "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.",
        "header Authorization: Bearer abcdefghijklmnop0123",
        "bad x-api-key=sk-ant-api03-zzzzzzzzzzzz",
        "failed for https://user:hunter2pass@proxy.local/v1",
        'body {"api_key": "plainsecretvalue99"}',
    ],
)
def test_messages_are_one_line_and_mask_credentials(secret: str) -> None:
    failure = classify_model_error(RuntimeError(f"first line\n{secret}\n"))
    assert "\n" not in failure.message
    for leaked in (
        "AbCdEf0123456789",
        "abcdefghijklmnop0123",
        "zzzzzzzzzzzz",
        "hunter2pass",
        "plainsecretvalue99",
    ):
        assert leaked not in failure.message


def test_long_messages_are_cut() -> None:
    assert len(classify_model_error(RuntimeError("x" * 5000)).message) <= 300


def test_failures_are_frozen() -> None:
    failure = classify_model_error(TimeoutError())
    with pytest.raises(ValidationError):
        failure.kind = "auth"  # type: ignore[misc]
