"""Who holds a running run: a lease of owner and heartbeat in the store's runs index.

A run killed with ``kill -9`` (or on a machine that died) cannot mark itself
interrupted, so its row would say ``running`` for ever. Instead, the process
running it names itself as the owner (``host:pid``) and refreshes a heartbeat
every few seconds; a reader shows the run as ``interrupted`` when the owner is
a dead process on this host, or when the heartbeat is older than the lease
(the only sign left of a process on another machine, such as a Ray worker).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from agent.state import RunStatus

__all__ = ["HEARTBEAT_S", "LEASE_S", "Heartbeat", "live_status", "this_process"]

HEARTBEAT_S = 5.0
LEASE_S = 30.0  # six missed heartbeats

_log = logging.getLogger(__name__)


def this_process() -> str:
    """The owner name of this process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def live_status(status: RunStatus, owner: str, heartbeat_at: float, now: float) -> RunStatus:
    """``status``, except that a ``running`` run nobody holds any more is ``interrupted``."""
    if status != "running":
        return status
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return "interrupted"
    if now - heartbeat_at > LEASE_S:
        return "interrupted"
    return status


class Heartbeat:
    """Calls ``beat()`` every `HEARTBEAT_S` on a thread of its own, so a model holding
    the event loop (or the GIL, between its releases) does not make a live run look dead."""

    def __init__(self, beat: Callable[[], None], every_s: float = HEARTBEAT_S) -> None:
        self._beat = beat
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ponder-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._beat()
            except Exception as exc:  # a missed beat is not fatal; the lease allows several
                _log.warning("heartbeat failed: %s", exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every_s + 5)
