"""20 runs at once in one process and 4 processes on one store: no cross-talk, no lock errors."""

from __future__ import annotations

import pytest

from tests.reliability import concurrency as cc

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("shared_saver", [True, False], ids=["one-saver", "saver-per-run"])
async def test_twenty_runs_at_once_in_one_process(shared_saver: bool) -> None:
    result = await cc.run_in_process(20, shared_saver=shared_saver)
    assert result["failures"] == []
    assert result["clean"] == 20 and result["database_locked"] == 0


def test_four_processes_share_one_store() -> None:
    result = cc.run_processes(4)
    assert result["failures"] == []
    assert result["clean"] == 4


def test_the_cross_talk_check_sees_a_foreign_token() -> None:
    assert cc.foreign_tokens("facts of tok03 and tok07", "tok03") == {"tok07"}
    assert cc.foreign_tokens("facts of tok03", "tok03") == set()
