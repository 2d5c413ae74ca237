"""The benchmark's workloads (B1-B4), each scripted once for every framework."""

from bench.workloads._common import Flavor, ScriptError, Workload
from bench.workloads.deps import Dependencies
from bench.workloads.fanout import FanOut
from bench.workloads.small import Overhead, TokenGrowth

__all__ = [
    "Dependencies",
    "FanOut",
    "Flavor",
    "Overhead",
    "ScriptError",
    "TokenGrowth",
    "Workload",
]
