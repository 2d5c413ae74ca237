"""The model spec resolver: every spec form, auto selection, errors, and structured_method."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import GenericFakeChatModel
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agent.errors import ConfigError, MissingDependencyError, ModelSpecError
from agent.models.llamacpp import ChatLlamaCpp
from agent.models.resolve import (
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_OPENAI_MODEL,
    resolve_model,
    resolve_model_spec,
    structured_method,
)
from tests.models.conftest import needs_llama

KEY = "sk-test-1234567890abcdef"


def test_openai_spec_uses_the_key_from_env_as_a_secret() -> None:
    model = resolve_model("openai:gpt-4o-mini", env={"OPENAI_API_KEY": KEY})
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == KEY
    assert model.stream_usage is True
    assert model.openai_api_base == "https://api.openai.com/v1"
    assert model.max_retries == 0
    assert KEY not in repr(model) and KEY not in str(model.model_dump())


def test_openai_compatible_server_gets_a_dummy_key() -> None:
    model = resolve_model("openai:local", base_url="http://127.0.0.1:9999/v1", env={})
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:9999/v1"
    assert model.openai_api_key is not None and model.openai_api_key.get_secret_value()
    assert model.stream_usage is True


def test_openai_without_key_or_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs an API key"):
        resolve_model("openai:gpt-4o-mini", env={})


def test_env_is_the_only_source_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-process-env-000000")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://process-env.invalid/v1")
    with pytest.raises(ConfigError):
        resolve_model("openai:gpt-4o-mini", env={})
    model = resolve_model("openai:gpt-4o-mini", env={"OPENAI_API_KEY": KEY})
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "https://api.openai.com/v1"
    assert model.root_client.base_url == "https://api.openai.com/v1/"


def test_explicit_api_key_and_options_pass_through() -> None:
    model = resolve_model("openai:gpt-4.1", api_key=KEY, temperature=0.0, max_retries=3)
    assert isinstance(model, ChatOpenAI)
    assert model.temperature == 0.0 and model.max_retries == 3


def test_anthropic_spec() -> None:
    model = resolve_model("anthropic:claude-sonnet-4-5", env={"ANTHROPIC_API_KEY": KEY})
    assert isinstance(model, ChatAnthropic)
    assert model.model == "claude-sonnet-4-5"
    assert model.anthropic_api_key.get_secret_value() == KEY
    assert model.anthropic_api_url == "https://api.anthropic.com"
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        resolve_model("anthropic:claude-sonnet-4-5", env={})


@pytest.mark.parametrize(
    ("env", "base_url", "expected"),
    [
        ({}, None, "http://127.0.0.1:11434"),
        ({"OLLAMA_HOST": "gpu-box:11434"}, None, "http://gpu-box:11434"),
        ({"OLLAMA_HOST": "gpu-box:11434"}, "http://other:1/", "http://other:1/"),
    ],
)
def test_ollama_spec(env: dict[str, str], base_url: str | None, expected: str) -> None:
    model = resolve_model("ollama:qwen3:4b", env=env, base_url=base_url)
    assert isinstance(model, ChatOllama)
    assert model.model == "qwen3:4b" and model.base_url == expected


@pytest.mark.parametrize(
    ("env", "spec", "kind"),
    [
        (
            {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY},
            f"openai:{DEFAULT_OPENAI_MODEL}",
            ChatOpenAI,
        ),
        ({"ANTHROPIC_API_KEY": KEY}, f"anthropic:{DEFAULT_ANTHROPIC_MODEL}", ChatAnthropic),
    ],
)
def test_auto_prefers_openai_then_anthropic(env: dict[str, str], spec: str, kind: type) -> None:
    resolved = resolve_model_spec("auto", env=env)
    assert resolved.spec == spec and isinstance(resolved.model, kind)
    assert resolved.notice is None


@needs_llama
@pytest.mark.demo_model
def test_auto_without_keys_is_the_demo_with_a_one_line_notice(
    demo: ChatLlamaCpp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-in-the-process-env-only-0000")
    resolved = resolve_model_spec("auto", env={"OPENAI_API_KEY": "", "PATH": "/bin"})
    assert resolved.spec == "demo" and resolved.model is demo
    assert resolved.notice is not None and "\n" not in resolved.notice
    assert "demo" in resolved.notice
    assert resolve_model_spec("auto").spec == "demo"  # env=None means no keys, not os.environ


def test_auto_with_a_base_url_means_an_openai_compatible_server() -> None:
    resolved = resolve_model_spec("auto", base_url="http://127.0.0.1:8080/v1", env={})
    assert isinstance(resolved.model, ChatOpenAI) and resolved.notice is None


@needs_llama
@pytest.mark.demo_model
def test_demo_spec_is_the_cached_demo_model(demo: ChatLlamaCpp) -> None:
    assert resolve_model("demo") is demo
    tuned = resolve_model("demo", temperature=0.0)
    assert isinstance(tuned, ChatLlamaCpp) and tuned.temperature == 0.0
    assert tuned.load() is demo.load()


@needs_llama
@pytest.mark.demo_model
def test_llamacpp_spec_loads_any_gguf(demo: ChatLlamaCpp) -> None:
    model = resolve_model(f"llamacpp:{demo.model_path}", max_tokens=7)
    assert isinstance(model, ChatLlamaCpp) and model.max_tokens == 7
    reply = model.invoke("hi")
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] <= 7


def test_missing_gguf_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no GGUF model file"):
        resolve_model(f"llamacpp:{tmp_path / 'absent.gguf'}")


@pytest.mark.parametrize(
    "spec", ["", "gpt-4o", "openai", "openai:", "llamacpp:", "demo:x", "auto:x", "bard:x"]
)
def test_unknown_specs_are_one_line_model_spec_errors(spec: str) -> None:
    with pytest.raises(ModelSpecError) as caught:
        resolve_model(spec, env={"OPENAI_API_KEY": KEY})
    assert "\n" not in str(caught.value) and repr(spec) in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "module", "extra"),
    [
        ("openai:gpt-4o-mini", "langchain_openai", "openai"),
        ("anthropic:claude-haiku-4-5", "langchain_anthropic", "anthropic"),
        ("ollama:llama3", "langchain_ollama", "ollama"),
        ("demo", "llama_cpp", "local"),
    ],
)
def test_missing_provider_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, spec: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingDependencyError) as caught:
        resolve_model(spec, env={"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY})
    assert f"pip install 'ponder[{extra}]'" in str(caught.value)
    assert isinstance(caught.value, ImportError)


def test_missing_llama_cpp_for_a_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError, match=r"ponder\[local\]"):
        resolve_model(f"llamacpp:{gguf}")


# -- structured_method ------------------------------------------------------------------


def test_structured_method_per_backend() -> None:
    openai = resolve_model("openai:gpt-4o-mini", env={"OPENAI_API_KEY": KEY})
    local_server = resolve_model("openai:x", base_url="http://127.0.0.1:8080/v1")
    assert structured_method(openai) == "json_schema"
    assert structured_method(local_server) == "function_calling"
    anthropic = resolve_model("anthropic:claude-haiku-4-5", env={"ANTHROPIC_API_KEY": KEY})
    assert structured_method(anthropic) == "function_calling"
    assert structured_method(resolve_model("ollama:llama3")) == "json_schema"
    assert structured_method(ChatLlamaCpp(model_path="/nowhere.gguf")) == "json_schema"
    # No bind_tools: only JSON mode is left.
    assert structured_method(GenericFakeChatModel(messages=iter([]))) == "json_mode"


def test_structured_method_override_wins() -> None:
    local_server = resolve_model("openai:x", base_url="http://127.0.0.1:8080/v1")
    assert structured_method(local_server, override="json_schema") == "json_schema"


def test_a_model_with_bind_tools_gets_function_calling() -> None:
    class ToolModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    assert structured_method(ToolModel(messages=iter([]))) == "function_calling"
