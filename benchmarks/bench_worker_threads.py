"""Pool workers running a CPU model: each on its share of the cores (ours) or each on every core.

``quilt build --workers N`` and ``quilt youtube run --workers N`` run tasks in a spawn process pool
(``quilt_hf.executors.LocalExecutor``). torch, MKL and OpenBLAS size their thread pools to every
core in every process, so N workers would run N x cores threads on the same cores; the pool
starts each worker with ``executors.limit_threads`` (cores // N threads each) unless the user set
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS``. Both arms go through the same
``LocalExecutor``:

- ``ours``: as ``quilt`` runs it (none of the variables set);
- ``every core``: the variables set to the core count, which is torch's own default, i.e. what
  the pool did before it limited its workers.

Each task builds a random XLM-RoBERTa encoder once per worker (``--layers`` of the default
punctuation model's 24, 1024 wide; weights do not change the cost of a forward pass), then times
``--passes`` forward passes on ``--tokens`` tokens (a 150-word caption window is ~200-260 tokens).
Arms are interleaved ``--repeats`` times. Printed per arm: the median seconds of one forward pass
while all workers are busy, passes per second over the pool, the threads torch used, and the
ratio to ``every core``.

    python benchmarks/bench_worker_threads.py --workers 2 --tasks 8 --layers 24
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

from quilt_hf.executors import THREAD_VARIABLES, LocalExecutor
from quilt_hf.records import ShardTask


@functools.lru_cache(maxsize=1)
def encoder(layers: int):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=1000,  # the real 250,002 only adds memory, not compute
        hidden_size=1024,
        num_hidden_layers=layers,
        num_attention_heads=16,
        intermediate_size=4096,
        max_position_embeddings=514,
    )
    return XLMRobertaModel(config).eval()


def forward_passes(task: ShardTask, layers: int, tokens: int, passes: int) -> dict:
    import torch

    model = encoder(layers)
    ids = torch.randint(5, 990, (1, tokens), generator=torch.Generator().manual_seed(0))
    seconds = []
    with torch.inference_mode():
        model(input_ids=ids)  # warm-up
        for _ in range(passes):
            start = time.perf_counter()
            model(input_ids=ids)
            seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "threads": torch.get_num_threads()}


def run_arm(every_core: bool, args: argparse.Namespace) -> dict:
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        if every_core:
            os.environ[name] = str(len(os.sched_getaffinity(0)))
        else:
            os.environ.pop(name, None)
    try:
        tasks = [ShardTask("bench", f"t{i}", (i,)) for i in range(args.tasks)]
        report = LocalExecutor(workers=args.workers).run(
            forward_passes, tasks, args.layers, args.tokens, args.passes, desc="tasks"
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if report.failed:
        raise SystemExit(f"a task failed: {report.failed[0].error}")
    results = [outcome.result for outcome in report.outcomes]
    return {
        "seconds": [s for result in results for s in result["seconds"]],
        "threads": sorted({result["threads"] for result in results}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="pool workers (default: 2)")
    parser.add_argument("--tasks", type=int, default=8, help="tasks per run (default: 8)")
    parser.add_argument("--layers", type=int, default=24, help="encoder layers (default: 24)")
    parser.add_argument("--tokens", type=int, default=230, help="tokens per pass (default: 230)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes per task (default: 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each arm (default: 3)")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2: one worker runs in this process, not a pool")

    arms = {"ours": False, "every core": True}
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    threads: dict[str, list[int]] = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, every_core in arms.items():
            result = run_arm(every_core, args)
            seconds[name] += result["seconds"]
            threads[name] = result["threads"]
    cores = len(os.sched_getaffinity(0))
    print(
        f"{args.workers} workers on {cores} cores, {args.tasks} tasks x {args.passes} passes, "
        f"{args.layers} layers, {args.tokens} tokens; medians of {args.repeats} runs per arm"
    )
    peer = statistics.median(seconds["every core"])
    print(f"{'arm':<12} {'s / pass':>9} {'passes / s':>11} {'threads':>8} {'x every core':>13}")
    for name in arms:
        median = statistics.median(seconds[name])
        per_second = args.workers / median
        shown = ",".join(map(str, threads[name]))
        print(f"{name:<12} {median:9.3f} {per_second:11.2f} {shown:>8} {median / peer:13.2f}")


if __name__ == "__main__":
    main()
