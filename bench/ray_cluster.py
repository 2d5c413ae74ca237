"""A local Ray cluster of two nodes on loopback: a head and a second node, as two machines.

Each node is ``ray start --block`` in a session of its own, so stopping it is a
signal to its process group (never ``ray stop``, which stops every Ray on the
machine). Every node uses ``--node-ip-address 127.0.0.1``, no dashboard and its
own temp folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from bench.local_server import free_port, stop_group

__all__ = ["RayCluster", "ray_available"]

RAY = Path(sys.executable).with_name("ray")


def ray_available() -> bool:
    return RAY.exists()


class RayCluster:
    """``with RayCluster(env) as cluster: cluster.address``."""

    def __init__(self, env: dict[str, str], *, cpus_per_node: int = 2) -> None:
        self.env = {**env, "RAY_USAGE_STATS_ENABLED": "0"}
        self.cpus = cpus_per_node
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = Path(tempfile.mkdtemp(prefix="ray-"))
        self.nodes: list[subprocess.Popen[bytes]] = []

    def _node(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.temp / f"node{len(self.nodes)}.log").open("wb")
        proc = subprocess.Popen(
            [str(RAY), "start", "--block", "--node-ip-address", "127.0.0.1",
             "--num-cpus", str(self.cpus), "--disable-usage-stats", *args],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )  # fmt: skip
        self.nodes.append(proc)
        return proc

    def start(self) -> None:
        self._node("--head", "--port", str(self.port), "--include-dashboard=false",
                   "--temp-dir", str(self.temp))  # fmt: skip
        self._wait_for_nodes(1)
        self._node("--address", self.address)
        self._wait_for_nodes(2)

    def _wait_for_nodes(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run(
                [str(RAY), "status", "--address", self.address],
                capture_output=True, text=True, env=self.env, timeout=30, check=False,
            )  # fmt: skip
            if done.returncode == 0 and done.stdout.count("node_") >= count:
                return
            if any(p.poll() is not None for p in self.nodes):
                break
            time.sleep(1)
        logs = "\n".join(p.read_text()[-1500:] for p in self.temp.glob("node*.log"))
        raise RuntimeError(f"the Ray cluster did not come up with {count} nodes:\n{logs}")

    def worker_pids(self) -> list[int]:
        """Pids of Ray worker processes running a Ponder task (their titles say so)."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes()
                if b"ray::_run_batch_task" in cmdline:
                    pids.append(int(proc.name))
        return pids

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.nodes):
            stop_group(proc, grace_s=15)  # type: ignore[arg-type]
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> RayCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
