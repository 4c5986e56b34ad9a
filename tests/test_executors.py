"""The local executor's process pool: workers share the machine's cores instead of each taking all."""

from __future__ import annotations

import os

from quilt_hf.executors import THREAD_VARIABLES, LocalExecutor
from quilt_hf.records import ShardTask


def report_threads(task: ShardTask) -> dict:
    """Runs in a pool worker: the thread settings torch and the BLAS libraries see there."""
    import torch

    return {
        "env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "torch": torch.get_num_threads(),
    }


def tasks(n: int) -> list[ShardTask]:
    return [ShardTask("quilt", f"s{i}", (i,)) for i in range(n)]


def test_pool_workers_share_the_cores_instead_of_each_taking_all(monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cores = len(os.sched_getaffinity(0))
    workers = max(2, cores)  # one core each (torch alone would take every core in each)
    report = LocalExecutor(workers=workers).run(report_threads, tasks(2 * workers))
    assert not report.failed, [o.error for o in report.failed]
    assert {o.result["torch"] for o in report.outcomes} == {1}
    assert all(set(o.result["env"].values()) == {"1"} for o in report.outcomes)


def test_thread_settings_the_user_made_are_kept(monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    report = LocalExecutor(workers=2).run(report_threads, tasks(2))
    assert not report.failed, [o.error for o in report.failed]
    # the user's choice stands, and no other variable is set to fight it
    expected = {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None}
    assert all(o.result["env"] == expected for o in report.outcomes)
