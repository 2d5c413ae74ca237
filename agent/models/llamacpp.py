# Over 400 lines: the LangChain chat-model surface (invoke, stream, tool binding,
# structured output) around one llama.cpp engine; engine, prompt and sampling live apart.
"""`ChatLlamaCpp`: a GGUF model run in-process by llama.cpp, as a LangChain chat model.

Structured output and forced tool calls are grammar-constrained: the JSON
schema becomes a GBNF grammar (see `_grammar`), so every sampled token keeps
the reply a prefix of schema-valid JSON. Even a 135M model therefore always
answers in shape; only a reply cut off by ``max_tokens`` can be incomplete,
and its ``finish_reason`` says ``length``.

Tool choice: a forced tool (by name, or ``any``/``required`` with one tool)
constrains the reply to that tool's arguments; ``any`` with several tools
constrains it to ``{"name": ..., "arguments": ...}`` over their union; ``auto``
lets the reply be either such a call or prose that does not start with ``{``;
``none`` ignores the tools. One call per reply.

(A little over 400 lines: it is one LangChain chat model, and splitting its
call planning from its streaming would separate code that changes together.)
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import replace
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCallChunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from pydantic import BaseModel, Field, PrivateAttr

from agent.models._llama_engine import Finish, LlamaEngine, Sampling
from agent.models._llama_prompt import (
    CallPlan,
    call_id,
    chat_messages,
    normalize_tool_choice,
    plan_call,
    tool_spec,
)

__all__ = ["ChatLlamaCpp", "StructuredMethod"]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")
_DONE = object()
_LOAD_FIELDS = frozenset({"model_path", "n_ctx", "n_threads", "n_batch"})


class ChatLlamaCpp(BaseChatModel):
    """A local GGUF chat model; loads on first use and is safe to share across threads."""

    model_path: str
    n_ctx: int = Field(default=8192, ge=256, description="capped at the model's trained context")
    n_threads: int | None = Field(
        default=None,
        description="default: half of os.cpu_count(), about the physical cores; llama.cpp "
        "threads wait on each other, so oversubscribed cores stall every token",
    )
    n_batch: int = 512
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = Field(default=1024, ge=1, description="cap on generated tokens per call")
    seed: int | None = Field(
        default=None,
        description="fixes sampling for repeatable replies; a seeded call re-evaluates its "
        "whole prompt, since a reused KV-cache prefix shifts the logits slightly",
    )
    stop: list[str] | None = None
    schema_in_prompt: bool = Field(
        default=True,
        description="also show the output schema or tools in the system turn, so the model "
        "knows what the constrained fields mean",
    )
    schema_hint_chars: int = Field(
        default=2000,
        ge=0,
        description="show a schema only up to this many characters (compact JSON); longer "
        "ones cost seconds of prompt processing and are left to the grammar",
    )

    _engine: LlamaEngine | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            **{key: getattr(self, key) for key in _SAMPLING_KEYS},
        }

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    def load(self) -> LlamaEngine:
        """Load the model now (it otherwise loads on the first call)."""
        with self._load_lock:
            if self._engine is None:
                self._engine = LlamaEngine(
                    self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads or max(1, (os.cpu_count() or 1) // 2),
                    n_batch=self.n_batch,
                )
            return self._engine

    def with_options(self, **options: Any) -> ChatLlamaCpp:
        """A validated copy with other options, sharing the loaded model when it can."""
        own = {name: getattr(self, name) for name in _OWN_FIELDS}
        copy = type(self)(**{**own, **options})
        if not _LOAD_FIELDS & options.keys():
            copy._engine = self._engine
        return copy

    def get_num_tokens(self, text: str) -> int:
        engine = self.load()
        with engine.lock:
            return len(engine.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return self.load().count_prompt_tokens(chat_messages(messages))

    # -- generation --------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._plan(messages, stop, kwargs)
        return generate_from_stream(self._chunks(call, None))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = [chunk async for chunk in self._astream(messages, stop, None, **kwargs)]
        return generate_from_stream(iter(chunks))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._plan(messages, stop, kwargs), None):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Generate in a worker thread; leaving early stops sampling at the next token."""
        call = self._plan(messages, stop, kwargs)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the caller's loop is gone; nobody is listening
                cancel.set()

        def produce() -> None:
            try:
                for chunk in self._chunks(call, cancel):
                    put(chunk)
            except BaseException as exc:  # handed to the awaiting caller, re-raised there
                put(exc)
            else:
                put(_DONE)

        threading.Thread(target=produce, name="ponder-llamacpp", daemon=True).start()
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, ChatGenerationChunk):
                    raise TypeError(f"unexpected item from the generation thread: {item!r}")
                if run_manager is not None:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            cancel.set()

    def _plan(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> CallPlan:
        options = dict(kwargs)
        options.pop("stream", None)
        sampling = Sampling(
            temperature=float(options.pop("temperature", self.temperature)),
            top_p=float(options.pop("top_p", self.top_p)),
            top_k=int(options.pop("top_k", self.top_k)),
            min_p=float(options.pop("min_p", self.min_p)),
            repeat_penalty=float(options.pop("repeat_penalty", self.repeat_penalty)),
            max_tokens=int(options.pop("max_tokens", self.max_tokens)),
            seed=options.pop("seed", self.seed),
            stop=tuple(stop if stop is not None else self.stop or ()),
        )
        response_format = options.pop("response_format", None)
        tools = [tool_spec(t) for t in options.pop("tools", None) or []]
        choice = options.pop("tool_choice", None)
        if options:
            raise TypeError(f"ChatLlamaCpp got unsupported options: {sorted(options)}")
        return plan_call(
            messages,
            sampling,
            response_format=response_format,
            tools=tools,
            tool_choice=choice,
            hint_chars=self.schema_hint_chars if self.schema_in_prompt else 0,
        )

    def _chunks(
        self, call: CallPlan, cancel: threading.Event | None
    ) -> Iterator[ChatGenerationChunk]:
        """Turn the engine's text pieces into message chunks for the call's mode.

        A JSON reply or tool call cut off by ``max_tokens`` raises
        `OutputParserException` after the usage chunk: LangChain's partial-JSON
        parsing would otherwise pass the fragment off as a complete answer.
        """
        engine = self.load()
        events = engine.generate(call.turns, call.sampling, grammar=call.grammar, cancel=cancel)
        ident = call_id()
        constrained: list[str] = []  # JSON text, checked for completeness at the end
        pending: list[str] = []  # a whole {"name", "arguments"} reply, parsed at the end
        # The engine holds its lock until `events` ends: close it here, not when a kept
        # exception's traceback (which references this frame) is finally freed.
        try:
            for event in events:
                if isinstance(event, Finish):
                    whole = "".join(constrained)
                    cut_off = event.reason == "length" and bool(constrained) and not _is_json(whole)
                    if pending and not cut_off:
                        call_chunk = _parse_call(whole, ident)
                        yield _chunk(AIMessageChunk(content="", tool_call_chunks=[call_chunk]))
                    yield self._last_chunk(event, called=call.mode == "tool" or bool(pending))
                    if cut_off:
                        raise OutputParserException(
                            f"the reply reached max_tokens={call.sampling.max_tokens} before its "
                            "JSON was complete",
                            llm_output=whole,
                        )
                    return
                first = not constrained and call.mode != "text"
                if call.mode == "text" or (
                    call.mode == "auto" and not pending and not (first and event.startswith("{"))
                ):
                    call = replace(call, mode="text") if call.mode == "auto" else call
                    yield _chunk(AIMessageChunk(content=event))
                    continue
                constrained.append(event)
                if call.mode == "json":
                    yield _chunk(AIMessageChunk(content=event))
                elif call.mode == "tool":
                    yield _chunk(
                        AIMessageChunk(
                            content="",
                            tool_call_chunks=[
                                ToolCallChunk(
                                    name=call.tool if first else None,
                                    args=event,
                                    id=ident if first else None,
                                    index=0,
                                )
                            ],
                        )
                    )
                else:
                    pending.append(event)
        finally:
            events.close()

    def _last_chunk(self, finish: Finish, *, called: bool) -> ChatGenerationChunk:
        reason = "tool_calls" if called and finish.reason == "stop" else finish.reason
        metadata = {
            "finish_reason": reason,
            "model_name": self.model_name,
            "model_provider": "llamacpp",
        }
        message = AIMessageChunk(
            content="",
            usage_metadata={
                "input_tokens": finish.prompt_tokens,
                "output_tokens": finish.completion_tokens,
                "total_tokens": finish.prompt_tokens + finish.completion_tokens,
            },
            response_metadata=metadata,
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message, generation_info={"finish_reason": reason})

    # -- tools and structured output ---------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        specs = [tool_spec(t) for t in tools]
        return self.bind(
            tools=[s.as_openai() for s in specs],
            tool_choice=normalize_tool_choice(tool_choice, specs),
            **kwargs,
        )

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: StructuredMethod = "json_schema",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Grammar-constrained output: a pydantic class gives instances, a dict gives dicts.

        ``json_schema`` constrains the reply to the schema; ``function_calling``
        forces a tool call whose arguments are constrained the same way;
        ``json_mode`` only guarantees some JSON object. Streaming yields partial
        dicts (or partial models once they validate).
        """
        kwargs.pop("strict", None)
        if kwargs:
            raise ValueError(f"unsupported arguments: {sorted(kwargs)}")
        spec = tool_spec(schema)
        pydantic = isinstance(schema, type) and issubclass(schema, BaseModel)
        trace = {"ls_structured_output_format": {"kwargs": {"method": method}, "schema": schema}}
        llm: Runnable[LanguageModelInput, Any]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            llm = self.bind_tools([schema], tool_choice=spec.name, **trace)
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if pydantic
                else JsonOutputKeyToolsParser(key_name=spec.name, first_tool_only=True)
            )
        elif method in ("json_schema", "json_mode"):
            response_format: dict[str, Any] = (
                {
                    "type": "json_schema",
                    "json_schema": {"name": spec.name, "schema": dict(spec.parameters)},
                }
                if method == "json_schema"
                else {"type": "json_object"}
            )
            llm = self.bind(response_format=response_format, **trace)
            parser = (
                PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
            )
        else:
            raise ValueError(f"unknown structured output method {method!r}")
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        ).with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None)], exception_key="parsing_error"
        )
        return RunnableMap(raw=llm) | parse


_OWN_FIELDS = tuple(ChatLlamaCpp.model_fields.keys() - BaseChatModel.model_fields.keys())


def _chunk(message: AIMessageChunk) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=message)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _parse_call(text: str, ident: str) -> ToolCallChunk:
    """A whole, grammar-shaped ``{"name", "arguments"}`` reply as one tool-call chunk."""
    data = json.loads(text)
    return ToolCallChunk(
        name=str(data["name"]), args=json.dumps(data["arguments"]), id=ident, index=0
    )
