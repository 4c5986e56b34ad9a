"""Fault tests with real processes: kill -9 the build at random points, and a Ray task that dies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quilt_hf.build_config import BuildConfig
from quilt_hf.executors import LocalExecutor
from quilt_hf.tasks import ShardSettings, run_shard_task, source_module


def final_rows(folder: Path) -> list[tuple]:
    files = sorted((folder / "data").glob("*.parquet"))
    table = pq.read_table(files, columns=["source_id", "image_sha256", "caption"])
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


@pytest.mark.slow
def test_kill_9_at_random_points_then_rerun_equals_uninterrupted(
    sample_corpus, built_sample, tmp_path
):
    reference = final_rows(built_sample)
    command = [sys.executable, "-m", "quilt_hf", "build", "--config", str(sample_corpus / "build.yaml"), "--workers", "1"]  # fmt: skip
    rng = random.Random(1234)
    for trial in range(3):
        out = tmp_path / f"trial{trial}"
        process = subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        time.sleep(rng.uniform(2.0, 9.0))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        rerun = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=600)  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        rows = final_rows(out)
        assert len(rows) == len(set(rows))  # nothing duplicated
        assert rows == reference  # nothing lost


def _shard_rows(work_root: Path) -> list[tuple]:
    rows = []
    for path in sorted(work_root.glob("*/*.parquet")):
        table = pq.read_table(path, columns=["source_id", "image_sha256", "caption"])
        rows += zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
    return sorted(rows)


@pytest.mark.slow
def test_ray_retries_a_task_that_dies_and_matches_local(sample_corpus, tmp_path):
    ray = pytest.importorskip("ray")
    from quilt_hf.ray_executor import RayExecutor

    config = BuildConfig.load(sample_corpus / "build.yaml")
    settings = ShardSettings.of(config)
    tasks = []
    for subset in ("pubmed", "laion"):
        tasks += source_module(subset).plan_shards(
            config.sources[subset],
            config.base_dir,
            config.shard_size,
            {"download": config.download},
        )
    markers = tmp_path / "markers"
    markers.mkdir()
    # one shard that runs as a plain Ray task (laion) and one that runs on an actor (pubmed)
    doomed = {tasks[0].shard_id, tasks[-1].shard_id}
    assert {tasks[0].subset, tasks[-1].subset} == {"pubmed", "laion"}

    # Defined inside the test so Ray pickles it by value; the first attempt at `doomed` kills
    # its worker process outright (no exception, no cleanup), as an OOM kill or a lost node would.
    def dies_once(task, work_root, settings):
        marker = markers / task.shard_id
        if task.shard_id in doomed and not marker.exists():
            marker.touch()
            os._exit(1)
        return run_shard_task(task, work_root, settings)

    # the sample_corpus fixture serves the corpus for the whole session
    local = LocalExecutor(workers=1).run(run_shard_task, tasks, str(tmp_path / "local"), settings)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = RayExecutor(max_retries=2).run(dies_once, tasks, str(tmp_path / "ray"), settings)
    finally:
        ray.shutdown()
    assert all((markers / shard).exists() for shard in doomed)  # each worker really died once
    assert not local.failed and not remote.failed, [o.error for o in remote.failed]
    assert _shard_rows(tmp_path / "ray") == _shard_rows(tmp_path / "local")
    assert len(_shard_rows(tmp_path / "ray")) > 0
