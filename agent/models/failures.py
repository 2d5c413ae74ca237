"""What went wrong in a model call, in one small value the retry layer can act on.

Provider SDKs each raise their own exception tree (openai and anthropic share
a shape; ollama, httpx and asyncio have others). `classify_model_error` maps
all of them to a `ModelFailure`: a kind, the HTTP status, how long the server
asked us to wait, and whether trying again can help. The message is one line
with anything that looks like a credential masked.
"""

from __future__ import annotations

import email.utils
import importlib
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["FailureKind", "ModelFailure", "classify_model_error"]

FailureKind = Literal[
    "rate_limited", "server_error", "timeout", "connection", "auth", "bad_request", "unknown"
]

_RETRYABLE: frozenset[FailureKind] = frozenset(
    {"rate_limited", "server_error", "timeout", "connection"}
)
_MAX_MESSAGE = 300
_SECRETS = [
    re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-]{6,}"),  # OpenAI / Anthropic style keys
    re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(
        r"(?i)\b(api[_-]?key|x-api-key|authorization|password|secret)\b([\"']?\s*[:=]\s*)"
        r"[\"']?[^\s\"',;}]+"
    ),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
]


class ModelFailure(BaseModel):
    """A provider failure, classified. `message` is safe to log and show."""

    model_config = ConfigDict(frozen=True)

    kind: FailureKind
    status: int | None = None
    retry_after: float | None = None
    retryable: bool = False
    message: str = ""


def classify_model_error(exc: BaseException) -> ModelFailure:
    """Classify `exc`, or the first exception in its cause chain that is recognisable."""
    for err in _chain(exc):
        found = _classify_one(err)
        if found is not None:
            kind, status, headers = found
            return ModelFailure(
                kind=kind,
                status=status,
                retry_after=_retry_after(headers),
                retryable=kind in _RETRYABLE,
                message=_one_line(err),
            )
    return ModelFailure(kind="unknown", message=_one_line(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _classify_one(err: BaseException) -> tuple[FailureKind, int | None, Any] | None:
    for module in ("openai", "anthropic"):
        sdk = _optional(module)
        if sdk is None:
            continue
        if isinstance(err, sdk.APITimeoutError):
            return "timeout", None, None
        if isinstance(err, sdk.APIConnectionError):
            return "connection", None, None
        if isinstance(err, sdk.APIStatusError):
            response = err.response
            return _kind_for_status(err.status_code), err.status_code, response.headers
    ollama = _optional("ollama")
    if ollama is not None:
        if isinstance(err, ollama.ResponseError):
            status = err.status_code if err.status_code > 0 else None
            return (_kind_for_status(status) if status else "unknown"), status, None
        if isinstance(err, ollama.RequestError):
            return "bad_request", None, None
    for module in ("httpx", "httpx2"):
        http = _optional(module)
        if http is None:
            continue
        if isinstance(err, http.TimeoutException):
            return "timeout", None, None
        if isinstance(err, http.HTTPStatusError):
            status = err.response.status_code
            return _kind_for_status(status), status, err.response.headers
        if isinstance(err, http.TransportError):
            return "connection", None, None
    if isinstance(err, TimeoutError):  # asyncio.TimeoutError is this class since 3.11
        return "timeout", None, None
    if isinstance(err, ConnectionError):
        return "connection", None, None
    return None


def _kind_for_status(status: int) -> FailureKind:
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "server_error"
    if status == 409:  # a conflicting concurrent request; the SDKs retry it too
        return "server_error"
    if 400 <= status < 500:
        return "bad_request"
    return "unknown"


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or a date)."""
    if not isinstance(headers, Mapping) and not hasattr(headers, "get"):
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    for pattern in _SECRETS:
        text = pattern.sub(_mask, text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _mask(match: re.Match[str]) -> str:
    if match.re is _SECRETS[2]:
        return f"{match.group(1)}{match.group(2)}***"
    if match.re is _SECRETS[3]:
        return "***"
    return f"{match.group(1)}-***" if match.re is _SECRETS[0] else f"{match.group(1)} ***"


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
