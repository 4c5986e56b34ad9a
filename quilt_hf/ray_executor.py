"""Run ``ShardTask``s on Ray: the same task function as the local executor, scheduled by Ray.

Ray does the distribution and the fault tolerance: a task whose worker dies (killed, OOM, node
lost) is retried by Ray up to ``max_retries`` times, and so is one that raises
(``retry_exceptions``). We only bound the work in flight and collect outcomes. Per-subset resources
let the YouTube shards (Whisper ASR, the frame classifier) ask for a GPU while downloads and
parsing stay on CPUs; models are cached per worker process (``quilt_hf.tasks.classifier_for``),
and Ray reuses worker processes, so a model loads once per worker, not once per task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from quilt_hf.errors import QuiltError
from quilt_hf.executors import RunReport, TaskOutcome
from quilt_hf.records import ShardTask

log = logging.getLogger(__name__)


class RayExecutor:
    def __init__(
        self,
        address: str | None = None,
        *,
        max_retries: int = 3,
        max_in_flight: int | None = None,
        num_cpus: int | None = None,
        resources: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.address = address
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.num_cpus = num_cpus  # only for a local runtime started here
        # e.g. {"quilt": {"num_gpus": 1, "num_cpus": 2}}; other subsets get 1 CPU
        self.resources = resources or {}

    def _ensure_ray(self):
        try:
            import ray
        except ImportError as error:
            raise QuiltError(
                "the ray executor needs Ray: pip install 'quilt-hf[distributed]'"
            ) from error
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                num_cpus=None if self.address else self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        return ray

    def run(
        self, fn: Callable[..., Any], tasks: Sequence[ShardTask], *args: Any, desc: str = "shards"
    ) -> RunReport:
        ray = self._ensure_ray()
        remote = ray.remote(fn)
        in_flight = self.max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        shared_args = [ray.put(a) for a in args]
        queue = list(tasks)
        running: dict[Any, ShardTask] = {}
        report = RunReport()
        with tqdm(total=len(tasks), desc=f"{desc} (ray)", unit="shard") as bar:
            while queue or running:
                while queue and len(running) < in_flight:
                    task = queue.pop(0)
                    options = {"num_cpus": 1, **self.resources.get(task.subset, {})}
                    ref = remote.options(
                        max_retries=self.max_retries, retry_exceptions=True, **options
                    ).remote(task, *shared_args)
                    running[ref] = task
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    task = running.pop(ref)
                    try:
                        report.outcomes.append(TaskOutcome(task, result=ray.get(ref)))
                    except Exception as error:  # retries exhausted
                        log.warning("task %s failed after retries: %s", task.shard_id, error)
                        report.outcomes.append(TaskOutcome(task, error=_reason(error)))
                    bar.update()
        return report


def _reason(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return f"{type(cause or error).__name__}: {cause or error}".splitlines()[0][:300]
