"""Chat model adapters and the model spec resolver (loaded lazily)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.models.demo import demo_gguf_path, demo_model
    from agent.models.failures import FailureKind, ModelFailure, classify_model_error
    from agent.models.llamacpp import ChatLlamaCpp, StructuredMethod
    from agent.models.openai_compat import ChatOpenAICompatible
    from agent.models.resolve import (
        ResolvedModel,
        resolve_model,
        resolve_model_spec,
        structured_method,
    )

__all__ = [
    "ChatLlamaCpp",
    "ChatOpenAICompatible",
    "FailureKind",
    "ModelFailure",
    "ResolvedModel",
    "StructuredMethod",
    "classify_model_error",
    "demo_gguf_path",
    "demo_model",
    "resolve_model",
    "resolve_model_spec",
    "structured_method",
]

_HOMES = {
    "demo_gguf_path": "agent.models.demo",
    "demo_model": "agent.models.demo",
    "FailureKind": "agent.models.failures",
    "ModelFailure": "agent.models.failures",
    "classify_model_error": "agent.models.failures",
    "ChatLlamaCpp": "agent.models.llamacpp",
    "ChatOpenAICompatible": "agent.models.openai_compat",
    "ResolvedModel": "agent.models.resolve",
    "StructuredMethod": "agent.models.llamacpp",
    "resolve_model": "agent.models.resolve",
    "resolve_model_spec": "agent.models.resolve",
    "structured_method": "agent.models.resolve",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'agent.models' has no attribute {name!r}")
