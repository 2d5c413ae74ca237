"""Tasks of a batch as Ray tasks: Ray schedules them over the cluster and retries a task
whose worker died; the worker resumes the run from the shared (Postgres) store.

The driver keeps a bounded number of tasks in flight, so a per-batch budget can
stop further launches, and hands each result back as it arrives. It also starts
the batch's web-search limiter, a named actor every worker paces its searches on
(`tools.search_limiter`), so the cluster as a whole keeps to ``--search-rate``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable

from agent.cli.batch_tasks import BatchItem, TaskSpec, run_task
from agent.errors import MissingDependencyError
from agent.store import Store
from tools.search_limiter import (
    RaySearchLimiter,
    SearchLimiter,
    start_ray_search_limiter,
    using_search_limiter,
)

__all__ = ["run_on_ray"]


# A worker process runs many tasks: it opens (and sets up) each store once.
_STORES: dict[str, Store] = {}
_LIMITERS: dict[str, SearchLimiter] = {}
_log = logging.getLogger(__name__)


def _batch_limiter(spec: TaskSpec) -> SearchLimiter | None:
    """The batch's limiter actor (looked up once per worker); None: pace per run instead."""
    limiter = _LIMITERS.get(spec.batch_id)
    if limiter is None:
        try:
            rate = spec.options.settings.web_search.rate_per_s
            limiter = _LIMITERS[spec.batch_id] = RaySearchLimiter(spec.batch_id, rate)
        except ValueError:  # no such actor: its driver is gone; Ray will end this task too
            _log.warning("batch %s has no search limiter; pacing per run", spec.batch_id)
            return None
    return limiter


def _run_batch_task(spec_json: str, store_spec: str) -> str:
    """Runs inside a Ray worker: one task against the shared store; its item as JSON."""
    from agent.store import open_store

    spec = TaskSpec.model_validate_json(spec_json)
    store = _STORES.get(store_spec)
    if store is None:
        store = _STORES[store_spec] = open_store(store_spec, os.environ)
    with using_search_limiter(_batch_limiter(spec)):
        return asyncio.run(run_task(spec, store)).model_dump_json()


def run_on_ray(
    specs: Iterable[TaskSpec],
    *,
    store_spec: str,
    address: str,
    in_flight: int,
    task_cpus: float,
    retries: int,
    batch_id: str,
    search_rate: float,
    on_start: Callable[[TaskSpec], None],
    on_result: Callable[[BatchItem], None],
    stop_launching: Callable[[], bool],
    on_tick: Callable[[], None],
) -> None:
    """Run ``specs`` on the Ray cluster at ``address`` (``auto``: the one on this machine)."""
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError as exc:
        raise MissingDependencyError("--ray needs Ray", hint="pip install 'ponder[ray]'") from exc

    ray.init(
        address=address,
        _node_ip_address="127.0.0.1",  # this machine's loopback only, never a public address
        logging_level=logging.WARNING,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        limiter = start_ray_search_limiter(batch_id, search_rate)
        ray.get(limiter.rate.remote())  # up and named before any worker looks for it
        remote = ray.remote(num_cpus=task_cpus, max_retries=retries)(_run_batch_task)
        waiting = iter(specs)
        running: dict[object, TaskSpec] = {}
        exhausted = False
        while True:
            while not exhausted and len(running) < in_flight and not stop_launching():
                spec = next(waiting, None)
                if spec is None:
                    exhausted = True
                    break
                running[remote.remote(spec.model_dump_json(), store_spec)] = spec
                on_start(spec)
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1, timeout=2.0)
            for ref in ready:
                spec = running.pop(ref)
                try:
                    item = BatchItem.model_validate_json(ray.get(ref))
                except RayError as exc:  # the task's retries ran out (its workers kept dying)
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    item = BatchItem(
                        index=spec.index,
                        task=spec.options.task,
                        run_id=spec.run_id,
                        status="failed",
                        error=f"Ray gave up on the task after {retries} retries: {first[:300]}",
                    )
                on_result(item)
            on_tick()
    finally:
        ray.shutdown()
