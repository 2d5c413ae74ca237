"""Token sampling with the grammar checked on the sampled token first.

llama-cpp-python puts the grammar inside the sampler chain, where it is matched
against all ~50k vocabulary entries at every step; on this CPU that costs about
40% of generation speed. llama.cpp's own tools sample freely, check only the
chosen token against the grammar, and fall back to the full grammar-masked
resample only when it is rejected (inside JSON strings, rarely). This does the
same through llama.cpp's C sampler API.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["TokenSampler"]

# Prompts are evaluated this many tokens at a time so a cancelled call stops within
# one slice (0.15 s for the demo model on an idle 2-core CPU, 0.6 s under load);
# measured there, slices of 16 and 512 evaluate equally fast (100 tok/s idle).
_PROMPT_SLICE = 16


class TokenSampler:
    """Evaluates a prompt, then yields one sampled token per `next_token` call.

    Not thread-safe: the caller holds the model's lock for the whole generation.
    """

    def __init__(
        self,
        llama: Any,
        llama_cpp: Any,
        *,
        temperature: float,
        top_p: float,
        top_k: int,
        min_p: float,
        repeat_penalty: float,
        grammar: str | None,
        candidates: Any,
    ) -> None:
        self._llama = llama
        self._c = llama_cpp
        self._n_vocab = int(llama.n_vocab())
        self._candidates = candidates  # a reusable llama_token_data_array over the vocabulary
        # The same chain llama-cpp-python builds (penalties, top-k/p, min-p, temp, dist),
        # minus the grammar, seeded from the model's current seed.
        self._chain = llama._init_sampler(
            top_k=top_k, top_p=top_p, min_p=min_p, temp=temperature, repeat_penalty=repeat_penalty
        )
        self._grammar = (
            llama_cpp.llama_sampler_init_grammar(
                llama._model.vocab, grammar.encode("utf-8"), b"root"
            )
            if grammar
            else None
        )
        self._one = llama_cpp.llama_token_data(id=0, logit=0.0, p=0.0)
        self._one_array = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self._one), size=1, selected=-1, sorted=False
        )

    def close(self) -> None:
        if self._grammar is not None:
            self._c.llama_sampler_free(self._grammar)
            self._grammar = None
        self._chain.close()

    def evaluate_prompt(
        self,
        tokens: Sequence[int],
        *,
        reuse_cache: bool,
        cancel: threading.Event | None = None,
    ) -> bool:
        """Bring the KV cache to `tokens`, keeping the longest cached prefix if allowed.

        Returns False if `cancel` was set before the whole prompt was evaluated.
        """
        import numpy as np  # here, not at the top: importing the graph must not load numpy

        llama = self._llama
        keep = 0
        if reuse_cache and llama.n_tokens > 0:
            limit = min(int(llama.n_tokens), len(tokens) - 1)  # always evaluate one token
            cached = np.asarray(llama.input_ids[:limit])
            wanted = np.asarray(tokens[:limit], dtype=cached.dtype)
            differs = np.flatnonzero(cached != wanted)
            keep = int(differs[0]) if differs.size else limit
        if keep > 0 and llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            llama.n_tokens = keep
        else:
            llama.reset()
            keep = 0
        rest = list(tokens[keep:])
        for start in range(0, len(rest), _PROMPT_SLICE):
            if cancel is not None and cancel.is_set():
                return False
            llama.eval(rest[start : start + _PROMPT_SLICE])
        return True

    def next_token(self) -> int:
        """Sample the next token; the grammar, if any, is advanced past it (not past EOG)."""
        import numpy as np  # loaded with llama_cpp by now: this is a dictionary lookup

        c = self._c
        logits = np.ctypeslib.as_array(
            c.llama_get_logits_ith(self._llama._ctx.ctx, -1), shape=(self._n_vocab,)
        )
        token = self._sample(logits, constrained=False)
        if self._grammar is not None and not self._allowed(token):
            token = self._sample(logits, constrained=True)
        if self._grammar is not None and not c.llama_vocab_is_eog(self._llama._model.vocab, token):
            c.llama_sampler_accept(self._grammar, token)
        c.llama_sampler_accept(self._chain.sampler, token)
        return token

    def advance(self, token: int) -> None:
        self._llama.eval([token])

    def _sample(self, logits: Any, *, constrained: bool) -> int:
        c, candidates = self._c, self._candidates
        candidates.copy_logits(logits)
        array = candidates.candidates
        # Samplers may re-point or shrink the array; start each pass from our buffer.
        array.data = candidates.candidates_data.ctypes.data_as(c.llama_token_data_p)
        array.selected = -1
        if constrained:
            c.llama_sampler_apply(self._grammar, ctypes.byref(array))
        c.llama_sampler_apply(self._chain.sampler, ctypes.byref(array))
        chosen = array.data[int(array.selected)]
        if constrained and math.isinf(chosen.logit) and chosen.logit < 0:
            raise RuntimeError("the grammar left no token to sample")
        return int(chosen.id)

    def _allowed(self, token: int) -> bool:
        self._one.id, self._one.logit, self._one.p = token, 1.0, 0.0
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        self._c.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        return not math.isinf(self._one.logit)
