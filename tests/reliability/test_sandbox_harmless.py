"""Ordinary snippets must still work inside the sandbox, with exact results."""

from __future__ import annotations

import pytest

from tests.reliability import sandbox_attacks as sa
from tools._sandbox import probe_sandbox

_PROBE = probe_sandbox(sa.SUITE_OPTIONS.bwrap, sa.SUITE_OPTIONS.python)
needs_bwrap = pytest.mark.skipif(
    not _PROBE.ok, reason=f"bubblewrap cannot run here: {_PROBE.reason}"
)


def test_there_are_at_least_thirty_snippets():
    assert len(sa.HARMLESS) >= 30
    assert len({s.name for s in sa.HARMLESS}) == len(sa.HARMLESS)


@pytest.mark.sandbox
@needs_bwrap
@pytest.mark.parametrize("snippet", sa.HARMLESS, ids=lambda s: s.name)
async def test_snippet_runs_and_prints_the_expected_result(snippet):
    obs = await sa.run_snippet(snippet)
    assert obs.ok, obs.content
    assert obs.via == "bwrap"
    assert obs.value == snippet.expect


@pytest.mark.sandbox
@needs_bwrap
async def test_files_written_by_a_snippet_are_returned():
    snippet = next(s for s in sa.HARMLESS if s.name == "file_write_read")
    obs = await sa.run_snippet(snippet)
    assert obs.fields["file:notes.txt"] == "alpha\nbeta\n"
