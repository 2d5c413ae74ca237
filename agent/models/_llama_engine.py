"""One loaded GGUF model and the token loop that samples from it.

Why a loop of our own instead of ``Llama.create_chat_completion``: the chat API
reports no usage when streaming, offers no way to stop a generation from
another thread, matches the grammar against the whole vocabulary at every
token (see `_llama_sampling`), and hands a broken grammar straight to
llama.cpp (which then dereferences a null sampler). Here every reply reports
exact token counts, a cancelled caller stops sampling at the next token, and
each grammar is checked once before use.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import ctypes
import logging
import os
import random
import sys
import tempfile
import threading
import weakref
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.errors import ConfigError, MissingDependencyError
from agent.models._llama_sampling import TokenSampler

__all__ = ["Finish", "LlamaEngine", "Sampling", "import_llama_cpp"]

FinishReason = Literal["stop", "length", "cancelled"]

_LOG = logging.getLogger("ponder.models.llamacpp")
_LOG.addHandler(logging.NullHandler())
_LOG_LEVELS = {2: logging.WARNING, 3: logging.ERROR}
_log_callback: Any = None  # kept alive: llama.cpp holds a raw pointer to it
_GRAMMAR_CACHE_SIZE = 64
_OPEN_ENGINES: weakref.WeakSet[LlamaEngine] = weakref.WeakSet()


_CLOSE_WAIT_S = 5.0


@atexit.register
def _close_open_engines() -> None:
    # llama-cpp-python frees models in __del__, which at interpreter exit runs after
    # its C bindings are gone and prints a traceback; free them while they exist.
    # A generation still running (its caller was cancelled, as on Ctrl-C) stops at
    # its next token or prompt slice; freeing the model under it would crash.
    for engine in list(_OPEN_ENGINES):
        if engine.lock.acquire(timeout=_CLOSE_WAIT_S):
            try:
                engine.llama.close()
            finally:
                engine.lock.release()


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, with its C logger routed into Python logging."""
    global _log_callback
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingDependencyError(
            "llama-cpp-python is not installed", hint="pip install 'ponder[local]'"
        ) from exc
    if _log_callback is None:

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def route(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            # Library code must not print; whoever configures logging decides.
            _LOG.log(_LOG_LEVELS.get(level, logging.DEBUG), "%s", text.decode(errors="replace"))

        _log_callback = route
        llama_cpp.llama_log_set(route, ctypes.c_void_p(0))
    return llama_cpp


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    max_tokens: int
    seed: int | None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finish:
    """Why generation ended, and the exact token counts of the call."""

    reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


class LlamaEngine:
    """A ``llama_cpp.Llama`` and the lock that serialises every use of it.

    llama.cpp contexts are not thread-safe, so one generation runs at a time.
    """

    def __init__(self, model_path: str, *, n_ctx: int, n_threads: int, n_batch: int) -> None:
        llama_cpp = import_llama_cpp()
        self._llama_cpp = llama_cpp
        self.lock = threading.Lock()
        self._grammars: dict[str, str] = {}

        def load(ctx: int) -> Any:
            return llama_cpp.Llama(
                model_path=model_path,
                n_ctx=ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=min(n_batch, ctx),
                verbose=False,
            )

        try:
            llama = load(n_ctx)
            trained = int(llama_cpp.llama_model_n_ctx_train(llama.model))
            if 0 < trained < n_ctx:  # never stretch a model past what it was trained on
                llama.close()
                llama = load(trained)
        except ValueError as exc:  # llama-cpp-python's report of an unreadable GGUF
            raise ConfigError(f"cannot load the GGUF model {model_path}: {exc}") from exc
        self.llama = llama
        _OPEN_ENGINES.add(self)
        self.n_ctx = int(llama.n_ctx())
        self._candidates = llama_cpp._internals.LlamaTokenDataArray(n_vocab=llama.n_vocab())
        template = llama.metadata.get("tokenizer.chat_template")
        eos = int(llama.token_eos())
        self._eos_text = llama._model.token_get_text(eos) if eos >= 0 else ""
        if template:
            bos = int(llama.token_bos())
            self._format: Any = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=self._eos_text,
                bos_token=llama._model.token_get_text(bos) if bos >= 0 else "",
            )
        else:
            self._format = llama_cpp.llama_chat_format.format_chatml

    def close(self) -> None:
        with self.lock:
            self.llama.close()

    def count_prompt_tokens(self, messages: Sequence[Mapping[str, str]]) -> int:
        with self.lock:
            return len(self._prompt_tokens(messages)[0])

    def generate(
        self,
        messages: Sequence[Mapping[str, str]],
        sampling: Sampling,
        *,
        grammar: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Generator[str | Finish, None, None]:
        """Yield text pieces as they decode, then one `Finish`.

        Holds the engine lock until the generator is exhausted or closed: close it.
        """
        with self.lock:
            yield from self._generate(messages, sampling, grammar, cancel)

    def _prompt_tokens(self, messages: Sequence[Mapping[str, str]]) -> tuple[list[int], list[str]]:
        formatted = self._format(messages=list(messages))
        tokens = self.llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        stop = formatted.stop
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        return tokens, stops

    def _generate(
        self,
        messages: Sequence[Mapping[str, str]],
        sampling: Sampling,
        grammar: str | None,
        cancel: threading.Event | None,
    ) -> Iterator[str | Finish]:
        llama, llama_cpp = self.llama, self._llama_cpp
        tokens, template_stops = self._prompt_tokens(messages)
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise ValueError(
                f"the prompt has {len(tokens)} tokens; the context window holds {self.n_ctx}"
            )
        max_tokens = min(sampling.max_tokens, room)
        stops = [s for s in (*sampling.stop, *template_stops) if s]
        hold = max((len(s) for s in stops), default=1) - 1
        checked = self._grammar(grammar) if grammar else None
        if sampling.seed is not None:
            llama.set_seed(sampling.seed)
        else:
            llama.set_seed(random.randrange(2**31))
        sampler = TokenSampler(
            llama,
            llama_cpp,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            grammar=checked,
            candidates=self._candidates,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llama._model.vocab
        text, emitted, count = "", 0, 0
        reason: FinishReason = "length"
        try:
            # A seeded call re-evaluates its whole prompt: logits computed over a reused
            # KV-cache prefix differ in the last bits, and so would the sampled reply.
            evaluated = sampler.evaluate_prompt(
                tokens, reuse_cache=sampling.seed is None, cancel=cancel
            )
            while True:
                if not evaluated or (cancel is not None and cancel.is_set()):
                    reason = "cancelled"
                    break
                token = sampler.next_token()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    reason = "stop"
                    break
                count += 1
                text += decoder.decode(llama.detokenize([token]))
                cut = _first_stop(text, stops)
                if cut is not None:
                    text, reason = text[:cut], "stop"
                    break
                if len(text) - hold > emitted:
                    yield text[emitted : len(text) - hold]
                    emitted = len(text) - hold
                if count >= max_tokens:
                    break
                sampler.advance(token)
        finally:
            sampler.close()
        if reason != "stop":
            text += decoder.decode(b"", final=True)
        if len(text) > emitted:
            yield text[emitted:]
        yield Finish(reason, len(tokens), count)

    def _grammar(self, gbnf: str) -> str:
        """`gbnf`, after checking (once per grammar) that llama.cpp accepts it."""
        cached = self._grammars.get(gbnf)
        if cached is not None:
            return cached
        llama_cpp = self._llama_cpp
        with _captured_stderr() as messages:  # the grammar parser writes to fd 2 directly
            sampler = llama_cpp.llama_sampler_init_grammar(
                self.llama._model.vocab, gbnf.encode("utf-8"), b"root"
            )
        if not sampler:
            reason = next((line for line in messages if line.strip()), "no reason given")
            raise ConfigError(
                f"llama.cpp rejected the grammar compiled from the output schema: {reason}"
            )
        llama_cpp.llama_sampler_free(sampler)
        if len(self._grammars) >= _GRAMMAR_CACHE_SIZE:
            self._grammars.pop(next(iter(self._grammars)))
        self._grammars[gbnf] = gbnf
        return gbnf


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Point fd 2 at a temporary file while C code runs; the yielded list gets its lines."""
    sys.stderr.flush()
    lines: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode(errors="replace").splitlines())


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None
