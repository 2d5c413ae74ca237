"""Run the real ``ponder`` console script in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PONDER = Path(sys.executable).with_name("ponder")
CORPUS = REPO / "examples" / "corpus"


def env(home: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return {**clean, "PONDER_HOME": str(home), **extra}


def ponder(
    *args: str, home: Path, timeout: float = 600, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PONDER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(home),
        cwd=REPO,
        **kw,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def write_script(path: Path, script: dict[str, Any], **options: Any) -> Path:
    path.write_text(json.dumps({"script": script, **options}), encoding="utf-8")
    return path
