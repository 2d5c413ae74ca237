"""The CLI's tool choices map to the right tools, and impossible ones fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from tools.toolbox import ToolboxOptions, build_toolbox

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"


def _names(**options: object) -> list[str]:
    return [t.name for t in build_toolbox(ToolboxOptions(**options)).tools]


def test_corpus_run_gets_exactly_the_corpus_tools(tmp_path: Path) -> None:
    names = _names(search="corpus", corpus=CORPUS, index_dir=tmp_path, code_sandbox="off")
    assert names == ["corpus_search", "read_document"]


@pytest.mark.sandbox
def test_corpus_run_with_the_sandbox_also_gets_python(tmp_path: Path) -> None:
    box = build_toolbox(ToolboxOptions(search="corpus", corpus=CORPUS, index_dir=tmp_path))
    if box.notices:
        pytest.skip("; ".join(box.notices))
    assert [t.name for t in box.tools] == ["corpus_search", "read_document", "python"]


def test_web_run_gets_search_fetch_and_browser(tmp_path: Path) -> None:
    names = _names(search="web", index_dir=tmp_path, code_sandbox="off")
    assert names == ["web_search", "fetch_url", "browser"]


@pytest.mark.sandbox
def test_code_tool_is_marked_for_approval(tmp_path: Path) -> None:
    box = build_toolbox(ToolboxOptions(search="none", index_dir=tmp_path))
    if box.notices:
        pytest.skip("; ".join(box.notices))
    (python,) = box.tools
    assert python.name == "python" and python.metadata == {"ponder_runs_code": True}


def test_only_keeps_the_named_tools_and_rejects_unknown_ones(tmp_path: Path) -> None:
    names = _names(search="corpus", corpus=CORPUS, index_dir=tmp_path, only=("corpus_search",))
    assert names == ["corpus_search"]
    with pytest.raises(ConfigError, match="unknown tool teleport"):
        _names(search="corpus", corpus=CORPUS, index_dir=tmp_path, only=("teleport",))


def test_corpus_search_without_a_corpus_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a corpus folder"):
        _names(search="corpus", index_dir=tmp_path)
