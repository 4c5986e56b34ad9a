"""Executors run ``ShardTask``s. Every executor runs the same task function; they differ only in
where it runs. ``local`` (the default) uses a process pool sized to the machine; the Ray executor
lives in ``quilt_hf.ray_executor`` so Ray stays an optional dependency.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from quilt_hf.records import ShardTask

log = logging.getLogger(__name__)


@dataclass
class TaskOutcome:
    task: ShardTask
    result: Any = None
    error: str = ""  # empty when the task succeeded

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class RunReport:
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if not o.ok]


# What torch (OpenMP), numpy's BLAS and MKL read for the size of their thread pools, each of which
# defaults to every core: N workers would then run N x cores threads on the same cores.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 8))


def threads_per_worker(workers: int) -> int:
    """The cores each of ``workers`` processes gets to itself (at least one)."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def limit_threads(threads: int) -> None:
    """Process-pool initializer: this worker's math libraries use ``threads`` threads, unless the
    user set any of their variables (torch reads both OMP's and MKL's: one set by the user and one
    by us would fight). On a 2-core machine two workers running the default punctuation model's
    forward passes took 0.26-0.43x the time per pass with one thread each than with every core
    each (``benchmarks/bench_worker_threads.py``, docs/scaling.md). Ray sets ``OMP_NUM_THREADS``
    for its own workers unless the user did. This runs before any task imports torch or numpy,
    which read the variables when they load; a torch already loaded is set directly."""
    if any(name in os.environ for name in THREAD_VARIABLES):
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class LocalExecutor:
    """Run tasks in this process (``workers=1``) or a process pool, with bounded in-flight work."""

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.max_in_flight = max_in_flight or 2 * self.workers

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[ShardTask],
        *args: Any,
        desc: str = "shards",
    ) -> RunReport:
        report = RunReport()
        bar = tqdm(total=len(tasks), desc=desc, unit="shard", disable=not tasks)
        if self.workers == 1:
            for task in tasks:
                report.outcomes.append(_call(fn, task, args))
                bar.update()
            bar.close()
            return report
        # spawn: the parent may hold threads (progress bars, the sample web server)
        context = multiprocessing.get_context("spawn")
        threads = (threads_per_worker(self.workers),)
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=limit_threads, initargs=threads
        ) as pool:
            queue = list(tasks)
            running: dict[Future, ShardTask] = {}
            while queue or running:
                while queue and len(running) < self.max_in_flight:
                    task = queue.pop(0)
                    running[pool.submit(_call, fn, task, args)] = task
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    try:
                        report.outcomes.append(future.result())
                    except Exception as error:  # the worker process itself died
                        report.outcomes.append(TaskOutcome(task, error=f"worker died: {error!r}"))
                    bar.update()
        bar.close()
        return report


def _call(fn: Callable[..., Any], task: ShardTask, args: tuple) -> TaskOutcome:
    try:
        return TaskOutcome(task, result=fn(task, *args))
    except Exception as error:
        log.warning("task %s failed: %s: %s", task.shard_id, type(error).__name__, error)
        return TaskOutcome(task, error=f"{type(error).__name__}: {error}")
