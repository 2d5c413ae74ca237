"""Model specs (``demo``, ``auto``, ``openai:gpt-4o-mini`` ...) to LangChain chat models.

Spec forms::

    auto                  OPENAI_API_KEY (or a base_url) -> openai, ANTHROPIC_API_KEY ->
                          anthropic, else demo with a one-line notice
    demo                  SmolLM2-135M in-process (the ``local`` extra)
    llamacpp:/path.gguf   any local GGUF, in-process
    openai:MODEL          OpenAI, or any OpenAI-compatible server given ``base_url``
                          (then `ChatOpenAICompatible`, which tolerates off-spec streams;
                          a MODEL ending in ``.gguf``, as llama.cpp's servers name theirs,
                          marks forced tool calls as grammar-constrained and samples at
                          ChatLlamaCpp's temperature and max_tokens)
    anthropic:MODEL       Anthropic
    ollama:MODEL          a local Ollama server

Environment variables are read only from the ``env`` mapping passed in (the
CLI passes ``os.environ``), and every key and URL is passed to the SDK
explicitly so no SDK reads the process environment behind our back. Keys go
to the SDKs as `SecretStr` and appear nowhere else.

SDK-level retries are off by default (``max_retries=0``): Ponder's structured
call layer retries with backoff against the run's budgets, and two layers of
retries would multiply attempts. Pass ``max_retries=`` to change it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agent.errors import ConfigError, MissingDependencyError, ModelSpecError
from agent.models.llamacpp import ChatLlamaCpp, StructuredMethod

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "ResolvedModel",
    "resolve_model",
    "resolve_model_spec",
    "structured_method",
]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
OLLAMA_URL = "http://127.0.0.1:11434"
# An OpenAI-compatible server without auth still wants some key in the header.
_NO_KEY = "not-needed"
_DEMO_NOTICE = (
    "No OPENAI_API_KEY or ANTHROPIC_API_KEY set: using the offline demo model "
    "(SmolLM2-135M); expect weak answers. Pass --model to choose another."
)


@dataclass(frozen=True)
class ResolvedModel:
    """The model, the spec it was resolved to, and a one-line notice for the user, if any."""

    model: BaseChatModel
    spec: str
    notice: str | None = None


def resolve_model(
    spec: str = "auto",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> BaseChatModel:
    """The chat model named by `spec`; see the module docstring for the forms."""
    return resolve_model_spec(spec, base_url=base_url, api_key=api_key, env=env, **options).model


def resolve_model_spec(
    spec: str = "auto",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> ResolvedModel:
    """Like `resolve_model`, also returning the concrete spec and the notice to print."""
    env = env or {}
    text = spec.strip()
    provider, _, name = text.partition(":")
    provider = provider.lower()
    if provider == "auto" and not name:
        if env.get("OPENAI_API_KEY") or base_url:
            provider, name = "openai", DEFAULT_OPENAI_MODEL
        elif env.get("ANTHROPIC_API_KEY"):
            provider, name = "anthropic", DEFAULT_ANTHROPIC_MODEL
        else:
            resolved = resolve_model_spec("demo", **options)
            return ResolvedModel(resolved.model, resolved.spec, _DEMO_NOTICE)
    if provider == "demo" and not name:
        return ResolvedModel(_demo(options), "demo")
    if provider == "llamacpp" and name:
        return ResolvedModel(_llamacpp(name, options), f"llamacpp:{name}")
    if provider == "openai" and name:
        return ResolvedModel(_openai(name, base_url, api_key, env, options), f"openai:{name}")
    if provider == "anthropic" and name:
        return ResolvedModel(_anthropic(name, base_url, api_key, env, options), f"anthropic:{name}")
    if provider == "script" and name:
        from agent.testing import scripted_model_from_file

        return ResolvedModel(scripted_model_from_file(name), f"script:{name}")
    if provider == "ollama" and name:
        return ResolvedModel(_ollama(name, base_url, env, options), f"ollama:{name}")
    raise ModelSpecError(f"unknown model spec {spec!r}")


def structured_method(
    model: BaseChatModel, override: StructuredMethod | None = None
) -> StructuredMethod:
    """The strongest structured-output mechanism `model`'s backend offers.

    Grammar-constrained JSON for llama.cpp and Ollama, json_schema for OpenAI
    itself, a forced tool call for Anthropic and for OpenAI-compatible servers
    (their ``response_format`` dialects differ; a forced call is grammar-
    constrained on llama.cpp's server and honoured by vLLM).
    """
    if override is not None:
        return override
    if isinstance(model, ChatLlamaCpp):
        return "json_schema"
    openai = _optional("langchain_openai")
    if openai is not None and isinstance(model, openai.ChatOpenAI):
        base = getattr(model, "openai_api_base", None)
        return "json_schema" if not base or "api.openai.com" in base else "function_calling"
    anthropic = _optional("langchain_anthropic")
    if anthropic is not None and isinstance(model, anthropic.ChatAnthropic):
        return "function_calling"
    ollama = _optional("langchain_ollama")
    if ollama is not None and isinstance(model, ollama.ChatOllama):
        return "json_schema"
    if type(model).bind_tools is not BaseChatModel.bind_tools:
        return "function_calling"
    return "json_mode"


def _demo(options: dict[str, Any]) -> BaseChatModel:
    _require("llama_cpp", "local")
    from agent.models.demo import demo_model

    model = demo_model()
    return model.with_options(**options) if options else model


def _llamacpp(path: str, options: dict[str, Any]) -> BaseChatModel:
    gguf = Path(path).expanduser()
    if not gguf.is_file():
        raise ConfigError(f"no GGUF model file at {gguf}")
    _require("llama_cpp", "local")
    model = ChatLlamaCpp(model_path=str(gguf), **options)
    model.load()
    return model


def _openai(
    name: str,
    base_url: str | None,
    api_key: str | None,
    env: Mapping[str, str],
    options: dict[str, Any],
) -> BaseChatModel:
    module = _require("langchain_openai", "openai")
    url = base_url or env.get("OPENAI_BASE_URL") or OPENAI_URL
    key = api_key or env.get("OPENAI_API_KEY")
    if not key:
        if url == OPENAI_URL:
            raise ConfigError(
                f"openai:{name} needs an API key", hint="set OPENAI_API_KEY or pass --base-url"
            )
        key = _NO_KEY
    settings: dict[str, Any] = {"stream_usage": True, "max_retries": 0, **options}
    if url == OPENAI_URL:
        chat: BaseChatModel = module.ChatOpenAI(
            model=name, base_url=url, api_key=SecretStr(key), **settings
        )
        return chat
    from agent.models.openai_compat import ChatOpenAICompatible

    if name.lower().endswith(".gguf"):
        # A GGUF is served by llama.cpp (llama-server, llama_cpp.server, LocalAI), whose
        # forced tool calls follow a grammar from the schema: plans can be DAGs by
        # construction. Sample it as ChatLlamaCpp would: not at the servers' 0.8, and
        # not until the context is full (a small model can loop inside a JSON string).
        settings.setdefault("constrained_tool_calls", True)
        for option in ("temperature", "max_tokens"):
            settings.setdefault(option, ChatLlamaCpp.model_fields[option].default)
    return ChatOpenAICompatible(model=name, base_url=url, api_key=SecretStr(key), **settings)


def _anthropic(
    name: str,
    base_url: str | None,
    api_key: str | None,
    env: Mapping[str, str],
    options: dict[str, Any],
) -> BaseChatModel:
    module = _require("langchain_anthropic", "anthropic")
    key = api_key or env.get("ANTHROPIC_API_KEY")
    if not key:
        raise ConfigError(f"anthropic:{name} needs an API key", hint="set ANTHROPIC_API_KEY")
    url = base_url or env.get("ANTHROPIC_BASE_URL") or ANTHROPIC_URL
    settings: dict[str, Any] = {"max_retries": 0, **options}
    chat: BaseChatModel = module.ChatAnthropic(
        model=name, base_url=url, api_key=SecretStr(key), **settings
    )
    return chat


def _ollama(
    name: str, base_url: str | None, env: Mapping[str, str], options: dict[str, Any]
) -> BaseChatModel:
    module = _require("langchain_ollama", "ollama")
    url = base_url or env.get("OLLAMA_HOST") or OLLAMA_URL
    if "://" not in url:  # OLLAMA_HOST is often written as host:port
        url = f"http://{url}"
    chat: BaseChatModel = module.ChatOllama(model=name, base_url=url, **options)
    return chat


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed", hint=f"pip install 'ponder[{extra}]'"
        ) from exc


def _optional(module: str) -> Any:
    """The provider package if it is already imported; a model of its class implies it is.

    Importing the SDKs just for an isinstance check cost over a second and
    60 MB on a run's first model call.
    """
    return sys.modules.get(module)
