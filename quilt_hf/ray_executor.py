"""Run ``ShardTask``s on Ray: the same task function as the local executor, scheduled by Ray.

Ray does the distribution and the fault tolerance: a task whose worker dies (killed, OOM, node
lost) is retried by Ray up to ``max_retries`` times, and so is one that raises
(``retry_exceptions``). We only bound the work in flight and collect outcomes. Per-subset resources
let the YouTube shards (Whisper ASR, the frame classifier) ask for a GPU while downloads and
parsing stay on CPUs. With ``actors``, a subset's tasks run on a few long-lived actors that each
hold their resources (a GPU) and keep the models they loaded (``quilt_hf.tasks.classifier_for``
caches per process), so a model loads once per actor, not once per task.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from quilt_hf.errors import QuiltError
from quilt_hf.executors import RunReport, TaskOutcome
from quilt_hf.records import ShardTask

log = logging.getLogger(__name__)

# --ray-resources keys that are Ray task options, and the node resource each one asks for
RAY_OPTION_RESOURCES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


class RayExecutor:
    def __init__(
        self,
        address: str | None = None,
        *,
        max_retries: int = 3,
        max_in_flight: int | None = None,
        num_cpus: int | None = None,
        resources: dict[str, dict[str, float]] | None = None,
        actors: dict[str, int] | None = None,
    ) -> None:
        self.address = address
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.num_cpus = num_cpus  # only for a local runtime started here
        # e.g. {"quilt": {"num_gpus": 1, "num_cpus": 2}}; other subsets get 1 CPU
        self.resources = resources or {}
        # e.g. {"quilt": 2}: that subset's tasks go to 2 long-lived actors (each holding its
        # resources, e.g. a GPU, and the models it loaded) instead of stateless tasks
        self.actors = actors or {}

    def connect(self):
        """Join (or start) Ray and check the resources asked for; return the ``ray`` module.
        Called by ``run``; the CLI calls it first so a bad address fails before any output."""
        try:
            import ray
        except ImportError as error:
            raise QuiltError(
                "the ray executor needs Ray: pip install 'quilt-hf[distributed]'"
            ) from error
        if not ray.is_initialized():
            if self.address and self.address != "auto":
                # ray.init retries an unreachable address for minutes; say so at once instead
                check_reachable(self.address)
            try:
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else self.num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise QuiltError(
                    f"could not connect to a Ray cluster at {self.address!r}: {error}".rstrip()
                    + " (start one with `ray start --head`, or leave --ray-address out to run "
                    "a local Ray)"
                ) from error
        self._check_resources(ray)
        return ray

    def _task_options(self, subset: str) -> dict[str, Any]:
        """Ray task/actor options of ``subset``: 1 CPU unless ``resources`` says otherwise;
        keys other than num_cpus / num_gpus / memory are custom Ray resources."""
        options: dict[str, Any] = {"num_cpus": 1}
        for key, value in self.resources.get(subset, {}).items():
            if key in RAY_OPTION_RESOURCES:
                options[key] = value
            else:
                options.setdefault("resources", {})[key] = value
        return options

    def _check_resources(self, ray: Any) -> None:
        """Fail before submitting anything when no node could ever run a subset's tasks: Ray would
        otherwise keep them pending forever as "infeasible"."""
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        for subset in self.resources:
            options = self._task_options(subset)
            demand = {
                RAY_OPTION_RESOURCES[k]: v for k, v in options.items() if k in RAY_OPTION_RESOURCES
            } | options.get("resources", {})
            demand = {k: v for k, v in demand.items() if v > 0}
            if not any(all(node.get(k, 0) >= v for k, v in demand.items()) for node in nodes):
                have = "; ".join(
                    ", ".join(f"{k}={v:g}" for k, v in sorted(n.items()) if "node:" not in k)
                    for n in nodes
                )
                raise QuiltError(
                    f"--ray-resources {subset}: no node of the Ray cluster has {demand} "
                    f"(nodes: {have or 'none'})"
                )

    def run(
        self, fn: Callable[..., Any], tasks: Sequence[ShardTask], *args: Any, desc: str = "shards"
    ) -> RunReport:
        ray = self.connect()
        remote = ray.remote(fn)
        in_flight = self.max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        shared_args = [ray.put(a) for a in args]
        pools = {
            subset: [
                ray.remote(ShardWorker)
                .options(
                    max_restarts=self.max_retries,
                    max_task_retries=self.max_retries,
                    **self._task_options(subset),
                )
                .remote(fn)
                for _ in range(count)
            ]
            for subset, count in self.actors.items()
            if count > 0
        }
        submitted = 0
        queue = list(tasks)
        running: dict[Any, ShardTask] = {}
        report = RunReport()
        with tqdm(total=len(tasks), desc=f"{desc} (ray)", unit="shard") as bar:
            while queue or running:
                while queue and len(running) < in_flight:
                    task = queue.pop(0)
                    pool = pools.get(task.subset)
                    if pool:  # round robin over the subset's actors
                        ref = pool[submitted % len(pool)].run.remote(task, *shared_args)
                    else:
                        ref = remote.options(
                            max_retries=self.max_retries,
                            retry_exceptions=True,
                            **self._task_options(task.subset),
                        ).remote(task, *shared_args)
                    submitted += 1
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


class ShardWorker:
    """A Ray actor that runs shard tasks in one long-lived process: a model it loads (Whisper, the
    frame classifier) stays loaded, on the GPU the actor holds, for every task it runs."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def run(self, task: ShardTask, *args: Any) -> Any:
        return self._fn(task, *args)


def _reason(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return f"{type(cause or error).__name__}: {cause or error}".splitlines()[0][:300]


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Raise a QuiltError unless something listens at ``address`` (``host:port`` or
    ``ray://host:port``)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise QuiltError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise QuiltError(
            f"no Ray cluster at {address}: {error} (start one with `ray start --head`, "
            "or leave --ray-address out to run a local Ray)"
        ) from error
