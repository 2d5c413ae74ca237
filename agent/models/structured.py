"""Structured model calls: strongest decoding each backend has, then validate and re-ask.

Every node talks to its model through `call_structured` (or `call_text`):

1. the schema goes to the backend's strongest mechanism (`structured_method`:
   grammar-constrained JSON for llama.cpp, json_schema or a forced tool call
   for hosted APIs), streamed so partial output can be acted on;
2. the reply is validated by pydantic and by the caller's own check (a plan's
   DAG rules, say); a failure is shown to the model with the exact error and
   the model is asked again, up to ``retries`` times;
3. provider failures (429, 5xx, timeouts, dropped connections) are retried
   with backoff and jitter, then raised as `ModelCallError`; a call that never
   answers is cut off at the model timeout or the run's remaining wall time.

Each attempt that returns is one model call against the budgets.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, cast

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.outputs import LLMResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSequence
from langchain_core.runnables.config import merge_configs
from pydantic import BaseModel, ValidationError

from agent.budget import BudgetGate
from agent.errors import ModelCallError, ModelOutputError
from agent.models._streamed_json import StreamedJson, parse_partial, unfinished_json
from agent.state import NodeUsage

__all__ = [
    "ReplySchema",
    "StructuredReply",
    "call_structured",
    "call_text",
    "grammar_constrained",
    "grammar_in_process",
    "json_schema_for",
]

T = TypeVar("T", bound="ReplySchema")

_TRANSIENT_TRIES = 3
_MAX_ECHO = 4000


@dataclass(frozen=True)
class StructuredReply(Generic[T]):
    value: T
    attempts: int


class _UsageCounter(AsyncCallbackHandler):
    """Reads token usage off the provider's reply; estimates it when absent.

    Run inline: langchain otherwise schedules a task per handler for every
    streamed chunk (``on_llm_new_token``), which this handler ignores; that
    task was most of Ponder's cost per streamed chunk.
    """

    run_inline = True

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.seen = False
        self.reply: BaseMessage | None = None

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for gen in generations:
                message = getattr(gen, "message", None)
                if isinstance(message, BaseMessage):
                    self.reply = message
                usage = getattr(message, "usage_metadata", None)
                if usage:
                    self.seen = True
                    self.input_tokens += int(usage.get("input_tokens", 0))
                    self.output_tokens += int(usage.get("output_tokens", 0))


def _estimate(text: str) -> int:
    return max(1, len(text) // 4)


class ReplySchema(BaseModel):
    """A reply Ponder asks a model for.

    ``SCRIPT_KEY`` is the name of the tool the model is made to call, so also
    the key of its replies in a scripted model (`agent.testing`). It is
    declared, not read off the class name, so renaming a class cannot silently
    break a script.
    """

    SCRIPT_KEY: ClassVar[str]


def json_schema_for(schema: type[ReplySchema]) -> dict[str, Any]:
    """A JSON schema with ``title``/``description``, as tool-calling backends want."""
    js = schema.model_json_schema()
    js.setdefault("description", (schema.__doc__ or schema.SCRIPT_KEY).strip().split("\n")[0])
    js["title"] = schema.SCRIPT_KEY
    return js


def _method_for(model: BaseChatModel) -> str:
    from agent.models.resolve import structured_method

    return structured_method(model)


def grammar_in_process(model: BaseChatModel) -> bool:
    """Whether Ponder compiles the grammar itself (llama.cpp in process), so custom
    grammar rules (``x-gbnf``, as a compact plan's) are enforced too."""
    try:
        from agent.models.llamacpp import ChatLlamaCpp
    except ImportError:
        return False
    return isinstance(model, ChatLlamaCpp)


def grammar_constrained(model: BaseChatModel) -> bool:
    """Whether decoding is forced to follow the schema (llama.cpp grammars, local or served)."""
    if grammar_in_process(model):
        return True
    # Only a model built by that module can be one of its class; importing it to
    # find out would import langchain-openai (about 1 s) into every run.
    compat = sys.modules.get("agent.models.openai_compat")
    if compat is None:
        return False
    return isinstance(model, compat.ChatOpenAICompatible) and model.constrained_tool_calls


def _failure(exc: BaseException) -> Any:
    from agent.models.failures import classify_model_error

    return classify_model_error(exc)


async def _attempt(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    js: dict[str, Any],
    method: str,
    config: RunnableConfig | None,
    on_partial: Callable[[dict[str, Any]], None] | None,
    counter: _UsageCounter,
) -> dict[str, Any] | None:
    """Stream one reply and parse it: partially when an object closes, whole at the end.

    LangChain's structured-output parsers re-parse the whole partial JSON on
    every streamed token, which is quadratic in the plan's length; here the
    backend's bound model is streamed directly and the partial JSON is parsed
    only when a chunk closes an object (a plan step may be complete).
    """
    runnable = model.with_structured_output(js, method=method)
    run_config = merge_configs(config, {"callbacks": [counter]})
    if not isinstance(runnable, RunnableSequence) or len(runnable.steps) != 2:
        return await _attempt_with_parser(runnable, messages, run_config, on_partial, counter)
    bound, parser = runnable.first, runnable.last
    chunks: list[AIMessageChunk] = []
    text = StreamedJson()
    async for chunk in bound.astream(list(messages), config=run_config):
        if not isinstance(chunk, AIMessageChunk):
            continue
        chunks.append(chunk)
        closed = text.add(chunk)
        if on_partial is not None and closed:
            partial = parse_partial(text.value)
            if partial is not None:
                on_partial(partial)
    if not chunks:
        return None
    # Merged once: adding chunks one by one re-parses the tool call's partial
    # JSON at every step, quadratic in the reply (10 ms per plan step here).
    reply = add_ai_message_chunks(chunks[0], *chunks[1:])
    cut = unfinished_json(reply)
    if cut is not None:
        raise OutputParserException("the reply's JSON is incomplete (cut off?)", llm_output=cut)
    # Parsed in place: a parser's ainvoke would wait for a worker thread, and
    # blocked sync tools can hold every thread of the default executor.
    last: Any = parser.invoke(reply, config=config)
    if last is not None and not isinstance(last, dict):
        raise OutputParserException(f"expected a JSON object, got {type(last).__name__}")
    if last is not None and on_partial is not None:
        on_partial(last)
    return cast(dict[str, Any] | None, last)


async def _attempt_with_parser(
    runnable: Runnable[Any, Any],
    messages: Sequence[BaseMessage],
    run_config: RunnableConfig,
    on_partial: Callable[[dict[str, Any]], None] | None,
    counter: _UsageCounter,
) -> dict[str, Any] | None:
    """For an adapter whose structured output is not ``model | parser``: LangChain streams."""
    last: Any = None
    async for part in runnable.astream(list(messages), config=run_config):
        last = part
        if on_partial is not None and isinstance(part, dict):
            on_partial(part)
    if last is not None and not isinstance(last, dict):
        raise OutputParserException(f"expected a JSON object, got {type(last).__name__}")
    cut = unfinished_json(counter.reply) if last is not None else None
    if cut is not None:
        raise OutputParserException("the reply's JSON is incomplete (cut off?)", llm_output=cut)
    return last


async def call_structured(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: type[T],
    *,
    gate: BudgetGate,
    retries: int,
    json_schema: dict[str, Any] | None = None,
    validate: Callable[[T], str | None] | None = None,
    on_partial: Callable[[dict[str, Any]], None] | None = None,
    on_rejected: Callable[[str], None] | None = None,
    config: RunnableConfig | None = None,
    error: type[ModelOutputError] = ModelOutputError,
) -> StructuredReply[T]:
    """Ask for ``schema`` until the reply is valid; raise ``error`` after ``retries`` re-asks.

    ``json_schema`` overrides the schema sent to the model (for per-run enums
    such as the tool names); the reply is still validated against ``schema``.
    ``on_rejected`` hears each refused reply's problem, so work begun from its
    partials (``on_partial``) can be undone before the model is asked again.
    """
    js = json_schema or json_schema_for(schema)
    method = _method_for(model)
    history = list(messages)
    problem = ""
    for attempt in range(1, retries + 2):
        gate.check_model_call()
        raw = await _call_with_transient_retries(
            model, history, js, method, config, on_partial, gate
        )
        try:
            if raw.parsed is None:
                raise OutputParserException(
                    raw.problem or "the reply held no JSON object (empty reply?)"
                )
            value = schema.model_validate(raw.parsed)
            problem = validate(value) or "" if validate else ""
        except OutputParserException as exc:
            problem = f"the reply was not valid JSON: {str(exc).splitlines()[0][:300]}"
        except ValidationError as exc:
            problem = _compact(exc)
        if not problem:
            return StructuredReply(value=value, attempts=attempt)
        if on_rejected is not None:
            on_rejected(problem)
        echo = raw.text[:_MAX_ECHO] if raw.text else "(nothing)"
        history += [
            AIMessage(content=echo),
            HumanMessage(
                content=(
                    f"That reply was rejected: {problem}\n"
                    f"Reply again with one JSON object that follows the {js['title']} "
                    "schema and fixes exactly this problem."
                )
            ),
        ]
    raise error(f"{js['title']} was still invalid after {retries + 1} tries: {problem}")


@dataclass(frozen=True)
class _Raw:
    parsed: dict[str, Any] | None
    text: str
    problem: str = ""


async def _call_with_transient_retries(
    model: BaseChatModel,
    messages: list[BaseMessage],
    js: dict[str, Any],
    method: str,
    config: RunnableConfig | None,
    on_partial: Callable[[dict[str, Any]], None] | None,
    gate: BudgetGate,
) -> _Raw:
    last_partial: dict[str, Any] = {}

    def remember(part: dict[str, Any]) -> None:
        last_partial.clear()
        last_partial.update(part)
        if on_partial is not None:
            on_partial(part)

    for transient in range(1, _TRANSIENT_TRIES + 1):
        counter = _UsageCounter()
        timeout = max(0.001, min(gate.budgets.model_timeout_s, gate.remaining_s()))
        try:
            parsed = await asyncio.wait_for(
                _attempt(model, messages, js, method, config, remember, counter), timeout
            )
            text = json.dumps(parsed) if parsed is not None else ""
            _record(gate, counter, messages, text)
            return _Raw(parsed, text)
        except OutputParserException as exc:
            text = getattr(exc, "llm_output", None) or json.dumps(last_partial)
            _record(gate, counter, messages, text or "")
            return _Raw(None, text or "", str(exc).splitlines()[0][:300])
        except TimeoutError as exc:
            if transient == _TRANSIENT_TRIES or gate.remaining_s() <= 0:
                raise ModelCallError(
                    f"the model did not reply within {timeout:.0f}s",
                    hint="check the model server, or raise --timeout",
                ) from exc
        except Exception as exc:  # provider SDK errors: classified, retried or raised
            failure = _failure(exc)
            if not failure.retryable or transient == _TRANSIENT_TRIES:
                raise ModelCallError(
                    f"model call failed ({failure.kind}): {failure.message}",
                    status=failure.status,
                ) from exc
            delay = failure.retry_after or (0.5 * 2 ** (transient - 1))
            await asyncio.sleep(min(delay, 10.0) * (0.8 + 0.4 * random.random()))
        gate.check_time()
    raise AssertionError("unreachable")  # pragma: no cover


def _record(
    gate: BudgetGate, counter: _UsageCounter, messages: list[BaseMessage], out: str
) -> None:
    if counter.seen:
        usage = NodeUsage(
            model_calls=1, input_tokens=counter.input_tokens, output_tokens=counter.output_tokens
        )
    else:
        prompt = "".join(str(m.content) for m in messages)
        usage = NodeUsage(
            model_calls=1, input_tokens=_estimate(prompt), output_tokens=_estimate(out)
        )
    gate.record(usage)


def _compact(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc or 'reply'}: {message}")
    return "; ".join(parts)


async def call_text(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    *,
    gate: BudgetGate,
    config: RunnableConfig | None = None,
) -> str:
    """A plain text reply (direct answers), with the same budget and failure handling."""
    gate.check_model_call()
    for transient in range(1, _TRANSIENT_TRIES + 1):
        counter = _UsageCounter()
        timeout = max(0.001, min(gate.budgets.model_timeout_s, gate.remaining_s()))
        try:
            reply = await asyncio.wait_for(
                model.ainvoke(
                    list(messages), config=merge_configs(config, {"callbacks": [counter]})
                ),
                timeout,
            )
            text = reply.text if isinstance(reply.content, list) else str(reply.content)
            _record(gate, counter, list(messages), text)
            return text.strip()
        except TimeoutError as exc:
            if transient == _TRANSIENT_TRIES:
                raise ModelCallError(f"the model did not reply within {timeout:.0f}s") from exc
        except Exception as exc:  # provider SDK errors: classified, retried or raised
            failure = _failure(exc)
            if not failure.retryable or transient == _TRANSIENT_TRIES:
                raise ModelCallError(
                    f"model call failed ({failure.kind}): {failure.message}", status=failure.status
                ) from exc
            await asyncio.sleep(min(failure.retry_after or 0.5 * 2 ** (transient - 1), 10.0))
    raise AssertionError("unreachable")  # pragma: no cover
