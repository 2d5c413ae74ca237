"""Latency profiles injected at the model adapters, and the single-slot switch.

A model call costs ``ttft + input_tokens / prompt_tps + output_tokens / gen_tps``
seconds, times the run's time scale. Streaming adapters deliver the output
tokens over that time, as a real streaming API would, so a framework that acts
on partial output gets the benefit it would get in production.

``cpu-small`` stands for the demo model (SmolLM2-135M through llama.cpp) on
this 2-core machine, one slot: its figures come from
``bench/results/demo_model.json``, written by ``bench/demo_model.py`` (prompt
processing, free generation and time to the first piece), or from
placeholders until that has run (the table says which).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "CPU_SMALL_FILE",
    "PROFILES",
    "LatencyProfile",
    "ModelSlot",
    "profile_named",
]

CPU_SMALL_FILE = Path(__file__).with_name("results") / "demo_model.json"


@dataclass(frozen=True)
class LatencyProfile:
    """How long a model call takes, from its token counts."""

    name: str
    ttft_s: float
    prompt_tps: float
    gen_tps: float
    chunk_tokens: int = 2  # tokens per streamed chunk (hosted APIs send 1-3)
    serialize: bool = False  # one generation at a time (a single llama.cpp slot)
    scale: float = 1.0  # every injected delay is multiplied by this
    measured: bool = True  # False when the figures are placeholders

    def prefill_s(self, input_tokens: int) -> float:
        """Time before the first output token."""
        if self.gen_tps <= 0:
            return 0.0
        return (self.ttft_s + input_tokens / self.prompt_tps) * self.scale

    def chunk_size(self) -> int:
        """Tokens per streamed chunk; more when time is compressed, so chunks per
        real second (and the CPU a framework spends per chunk) stay as at full scale."""
        if self.scale <= 0:
            return self.chunk_tokens
        return max(1, round(self.chunk_tokens / min(1.0, self.scale)))

    def token_s(self) -> float:
        """Time per output token."""
        return 0.0 if self.gen_tps <= 0 else self.scale / self.gen_tps

    def delay_s(self, input_tokens: int, output_tokens: int) -> float:
        return self.prefill_s(input_tokens) + output_tokens * self.token_s()

    def scaled(self, scale: float) -> LatencyProfile:
        return replace(self, scale=scale)

    def serialized(self, on: bool = True) -> LatencyProfile:
        return replace(self, serialize=on)

    def describe(self) -> str:
        if self.gen_tps <= 0:
            return f"{self.name} (no model latency)"
        note = "" if self.measured else ", placeholder figures"
        slot = ", one slot" if self.serialize else ""
        scale = f", time x{self.scale:g}" if self.scale != 1.0 else ""
        return (
            f"{self.name}: TTFT {self.ttft_s:g}s, prompt {self.prompt_tps:g} tok/s, "
            f"gen {self.gen_tps:g} tok/s{slot}{scale}{note}"
        )


def _cpu_small() -> LatencyProfile:
    if CPU_SMALL_FILE.exists():
        data = json.loads(CPU_SMALL_FILE.read_text())
        free = data["generation_free"]
        return LatencyProfile(
            name="cpu-small",
            ttft_s=float(free["first_piece_s"]),
            prompt_tps=float(data["prompt_processing"]["tokens_per_s"]),
            gen_tps=float(free["tokens_per_s"]),
            chunk_tokens=1,
            serialize=True,
        )
    # Placeholders, until bench/demo_model.py has measured this machine.
    return LatencyProfile(
        name="cpu-small",
        ttft_s=0.3,
        prompt_tps=200.0,
        gen_tps=25.0,
        chunk_tokens=1,
        serialize=True,
        measured=False,
    )


PROFILES: dict[str, LatencyProfile] = {
    "api": LatencyProfile(name="api", ttft_s=0.5, prompt_tps=2000.0, gen_tps=80.0),
    "zero": LatencyProfile(name="zero", ttft_s=0.0, prompt_tps=1.0, gen_tps=0.0),
}


def profile_named(name: str) -> LatencyProfile:
    if name == "cpu-small":
        return _cpu_small()
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join([*PROFILES, "cpu-small"])
        raise ValueError(f"unknown latency profile {name!r} (known: {known})") from None


class ModelSlot:
    """One generation at a time across threads and event loops, when serialized.

    A plain lock polled from async code: the holder may be on another thread's
    loop (Ponder's I/O loop) than the waiter.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.enabled:
            self._lock.acquire()

    async def aacquire(self) -> None:
        if not self.enabled:
            return
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.001)

    def release(self) -> None:
        if self.enabled:
            self._lock.release()
