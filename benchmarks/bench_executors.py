"""Executor benchmark: the same build through the local process pool (1 and 2 workers) and Ray.

On the sample corpus (``quilt sample --out DIR --port P``; videos included unless ``--no-videos``),
builds the full ``quilt_1m`` dataset into a fresh temporary folder once per executor:

  local-1    LocalExecutor(workers=1)   tasks run in the driver process, one after another
  local-2    LocalExecutor(workers=2)   a spawn process pool of 2
  ray-2      RayExecutor on ``ray.init(num_cpus=2)``, a local Ray runtime (start-up timed apart)

Each build runs in its own fresh Python process, so imports, model loads and worker start-up are
paid by every executor alike. Then the per-task overhead: ``--noop-tasks`` tasks that do nothing,
through each executor (median of ``--repeats``), which is the cost of scheduling, pickling and
collecting a task; the Ray figure minus the local-2 figure is what Ray adds per task. Printed: wall
seconds, rows built (they must agree), speed-up against local-1, and per-task overheads.

    python benchmarks/bench_executors.py [--corpus DIR | --port P] [--no-videos] [--noop-tasks 200]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

EXECUTORS = ("local-1", "local-2", "ray-2")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_executor(name: str):
    """The executor called ``name``; for Ray, also the seconds ``ray.init`` took."""
    if name.startswith("local-"):
        from quilt_hf.executors import LocalExecutor

        return LocalExecutor(workers=int(name.split("-")[1])), 0.0
    import ray

    from quilt_hf.ray_executor import RayExecutor

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return RayExecutor(), time.perf_counter() - started


def run_build(name: str, config_path: str, out: str, queue) -> None:
    """Child process: one build with executor ``name``; puts its figures on ``queue``."""
    import logging

    logging.disable(logging.WARNING)  # the sample corpus has bad inputs on purpose
    from quilt_hf.build import build_dataset
    from quilt_hf.build_config import BuildConfig
    from quilt_hf.synthetic.sample.server import serve_corpus

    executor, startup = make_executor(name)
    with serve_corpus(Path(config_path).parent):  # the sample's urls: its loopback server
        started = time.perf_counter()
        result = build_dataset(BuildConfig.load(config_path), out, executor=executor)
        wall = time.perf_counter() - started
    if name.startswith("ray"):
        import ray

        ray.shutdown()
    queue.put(
        {"wall": wall, "startup": startup, "rows": result.total_rows, "failed": result.failed_tasks}
    )


def noop(task, *args) -> str:
    return task.shard_id


def run_noops(name: str, count: int, repeats: int, queue) -> None:
    """Child process: ``count`` no-op tasks through executor ``name``, ``repeats`` times."""
    import logging
    import os

    os.environ["TQDM_DISABLE"] = "1"
    logging.disable(logging.WARNING)
    from quilt_hf.records import ShardTask

    tasks = [ShardTask("laion", f"noop-{i:05d}", (i,), {}) for i in range(count)]
    executor, _ = make_executor(name)
    fn = noop
    if name.startswith("ray"):
        # Ray pickles functions of this (spawned, so "__mp_main__") module by reference, which
        # its workers cannot import; a nested function is pickled by value.
        def fn(task, *args) -> str:
            return task.shard_id

    executor.run(fn, tasks[: min(count, 8)])  # warm up: pools and Ray workers started
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        report = executor.run(fn, tasks)
        walls.append(time.perf_counter() - started)
        assert not report.failed and len(report.outcomes) == count
    if name.startswith("ray"):
        import ray

        ray.shutdown()
    queue.put({"median": statistics.median(walls), "walls": walls})


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:  # a child that dies must not leave us waiting for ever
        try:
            figures = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"{target.__name__}{args} died (exit {process.exitcode})"
                ) from None
    process.join()
    return figures


def sample_corpus(args: argparse.Namespace, workdir: Path) -> Path:
    if args.corpus:
        return Path(args.corpus)
    corpus = workdir / "corpus"
    command = [sys.executable, "-m", "quilt_hf", "sample", "--out", str(corpus)]
    command += ["--port", str(args.port or free_port())]
    command += ["--no-videos"] if args.no_videos else []
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="an existing `quilt sample` folder (default: make one)")
    parser.add_argument("--port", type=int, help="sample server port for a new corpus")
    parser.add_argument("--no-videos", action="store_true", help="corpus without lecture videos")
    parser.add_argument("--no-builds", action="store_true", help="only the per-task overhead")
    parser.add_argument("--noop-tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="no-op runs per executor")
    parser.add_argument("--executors", nargs="+", default=list(EXECUTORS), choices=EXECUTORS)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_executors_"))
    try:
        corpus = sample_corpus(args, workdir)
        builds = {}
        for name in [] if args.no_builds else args.executors:
            out = workdir / f"build-{name}"
            builds[name] = in_child(run_build, name, str(corpus / "build.yaml"), str(out))
            print(f"build {name}: {json.dumps(builds[name])}", flush=True)
        noops = {}
        for name in args.executors:
            noops[name] = in_child(run_noops, name, args.noop_tasks, args.repeats)
            print(f"no-op {name}: {json.dumps(noops[name])}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if builds:
        print_builds(builds, corpus)
    print_noops(noops, args)


def print_builds(builds: dict, corpus: Path) -> None:
    print(f"\nBuild of the sample corpus ({corpus}), wall seconds of build_dataset:")
    print(f"  {'executor':9s} {'wall s':>8s} {'rows':>6s} {'failed':>6s} {'speed-up':>9s}")
    base = builds.get("local-1", {}).get("wall")
    for name, figures in builds.items():
        speedup = f"{base / figures['wall']:.2f}x" if base else "-"
        print(
            f"  {name:9s} {figures['wall']:8.1f} {figures['rows']:6d} "
            f"{len(figures['failed']):6d} {speedup:>9s}"
        )
    if "ray-2" in builds:
        print(
            f"  (ray.init(num_cpus=2) itself took {builds['ray-2']['startup']:.1f} s, not counted)"
        )
    rows = {figures["rows"] for figures in builds.values()}
    print(f"  rows agree across executors: {len(rows) == 1}")


def print_noops(noops: dict, args: argparse.Namespace) -> None:
    print(f"\nPer-task overhead ({args.noop_tasks} no-op tasks, median of {args.repeats}):")
    for name, figures in noops.items():
        per_task_ms = 1000 * figures["median"] / args.noop_tasks
        print(f"  {name:9s} {figures['median']:7.2f} s total {per_task_ms:8.2f} ms/task")
    if "ray-2" in noops and "local-2" in noops:
        ray_ms = 1000 * noops["ray-2"]["median"] / args.noop_tasks
        local_ms = 1000 * noops["local-2"]["median"] / args.noop_tasks
        print(
            f"  Ray adds {ray_ms - local_ms:+.2f} ms/task over the local pool "
            f"({ray_ms / local_ms:.2f}x its per-task cost)"
        )


if __name__ == "__main__":
    main()
