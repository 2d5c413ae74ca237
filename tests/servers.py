"""Stop a server process a test started in its own session, children and all.

The in-thread server and `free_port` live in ``bench/local_server.py`` (bench never imports
from tests, so what both use lives there).
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress


def stop_group(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever of it is left."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
