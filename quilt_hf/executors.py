"""Executors run ``ShardTask``s. Every executor runs the same task function; they differ only in
where it runs. ``local`` (the default) uses a process pool sized to the machine; the Ray executor
lives in ``quilt_hf.ray_executor`` so Ray stays an optional dependency.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
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


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 8))


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
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
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
