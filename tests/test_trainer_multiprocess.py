"""Multi-process training to the end, on the built sample with its ``val`` split.

One uninterrupted 1-process run (batch 16) is the reference. Against it:
- 2 processes x 8 under torchrun, evaluating every 3 steps and checkpointing every 2, killed with
  SIGKILL (every process of the job) after a checkpoint, then resumed with ``--resume_from latest``
  under ``accelerate launch --config_file trainer/configs/accelerate-2proc.yaml``: same losses, same final weights;
- 1 process x 8 with 2 gradient-accumulation steps: the contrastive batch is still all 16 pairs,
  so again the same losses and weights.
Attention key biases are left out of the weight comparison: their gradient is zero by design
(softmax ignores a constant shift), so Adam turns rounding noise into updates.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from safetensors.torch import load_file
from test_trainer_e2e import BIN, REPO, _env

PYTHON_M = [sys.executable, "-m", "trainer"]
STEPS = ["--max_steps", "8", "--eval_every", "3", "--checkpoint_every", "2",
         "--checkpoints_total_limit", "2", "--log_every", "1", "--eval_split", "val"]  # fmt: skip
ACCELERATE_CONFIG = "trainer/configs/accelerate-2proc.yaml"  # shipped; README shows it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def args(dataset: Path, out: Path, *extra: str) -> list[str]:
    return ["--config", "trainer/configs/tiny.yaml", "--dataset", str(dataset),
            "--output_dir", str(out), "--report_to", "none", *STEPS, *extra]  # fmt: skip


def run(command: list[str], tmp: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command, cwd=REPO, env=_env(tmp), capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def losses(out: Path) -> dict[int, float]:
    """The training loss per step (a resumed run logs some steps twice: the last one wins)."""
    return {r["step"]: r["loss"] for r in records(out) if "loss" in r}


def max_weight_difference(a_dir: Path, b_dir: Path) -> float:
    a = load_file(str(a_dir / "final" / "model.safetensors"))
    b = load_file(str(b_dir / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a if not k.endswith("k_proj.bias"))


def kill_job(process: subprocess.Popen) -> None:
    """SIGKILL the launcher and every process under it, as a dead machine would."""
    launcher = psutil.Process(process.pid)
    victims = [launcher, *launcher.children(recursive=True)]
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    _, alive = psutil.wait_procs(victims[1:], timeout=60)  # orphans are reaped by init
    assert not alive, alive


@pytest.fixture(scope="module")
def reference(built_sample, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("single")
    out = tmp / "run"
    run([*PYTHON_M, *args(built_sample, out, "--per_device_batch_size", "16")], tmp)
    return out


@pytest.mark.slow
def test_two_processes_killed_and_resumed_equal_one_process(built_sample, reference, tmp_path):
    out = tmp_path / "run"
    torchrun = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()),
                "-m", "trainer", *args(built_sample, out, "--per_device_batch_size", "8")]  # fmt: skip
    log = (tmp_path / "killed.log").open("w")
    job = subprocess.Popen(torchrun, cwd=REPO, env=_env(tmp_path), stdout=log, stderr=log)
    first = out / "checkpoints" / "checkpoint_0" / "checkpoint_complete"
    deadline = time.monotonic() + 300
    while not first.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists(), (tmp_path / "killed.log").read_text()[-4000:]
    kill_job(job)
    assert job.returncode == -signal.SIGKILL
    assert not (out / "final").exists(), "the run finished before it was killed"

    launch = [str(BIN / "accelerate"), "launch", "--config_file", ACCELERATE_CONFIG,
              "--main_process_port", str(free_port()), "trainer/",
              *args(built_sample, out, "--per_device_batch_size", "8", "--resume_from", "latest")]  # fmt: skip
    resumed = run(launch, tmp_path)
    output = resumed.stdout + resumed.stderr
    assert "2 process(es), global batch 16" in output
    assert "resumed from" in output and "at step " in output
    assert (out / "final" / "model.safetensors").is_file()

    difference = max_weight_difference(reference, out)
    print(
        f"2 processes x 8, killed and resumed, vs 1 x 16: max abs weight difference {difference:.3g}"
    )
    assert difference < 1e-5
    single, double = losses(reference), losses(out)
    assert single.keys() == double.keys() == set(range(1, 9))
    for step in single:
        assert double[step] == pytest.approx(single[step], rel=1e-5), step
    # periodic and final evaluations ran on both processes' shares, in quilt eval's names
    evals = {r["step"]: r for r in records(out) if "eval/loss" in r}
    reference_evals = {r["step"]: r for r in records(reference) if "eval/loss" in r}
    assert set(evals) == set(reference_evals) == {3, 6, 8}
    for key in ("eval/loss", "eval/image_to_text_R@1", "eval/text_to_image_R@5"):
        assert evals[8][key] == pytest.approx(reference_evals[8][key], rel=1e-4, abs=1e-6), key
    assert evals[8]["eval/num_images"] == reference_evals[8]["eval/num_images"] > 0
    # the checkpoints after the kill were written again, each one whole
    kept = sorted((out / "checkpoints").iterdir())
    assert [p.name for p in kept][-1] == "checkpoint_3"
    assert all((p / "checkpoint_complete").is_file() for p in kept)
    run_record = json.loads((out / "final" / "training_run.json").read_text())
    assert run_record["num_processes"] == 2 and run_record["steps"] == 8
    assert run_record["training_eval"]["step"] == 8


@pytest.mark.slow
def test_accumulation_contrasts_the_whole_accumulated_batch(built_sample, reference, tmp_path):
    out = tmp_path / "run"
    extra = ["--per_device_batch_size", "8", "--gradient_accumulation_steps", "2"]
    done = run([*PYTHON_M, *args(built_sample, out, *extra)], tmp_path)
    assert "1 process(es), global batch 16" in done.stdout + done.stderr
    difference = max_weight_difference(reference, out)
    print(f"1 process x 8 x 2 accumulation vs 1 x 16: max abs weight difference {difference:.3g}")
    assert difference < 1e-5
    single, accumulated = losses(reference), losses(out)
    assert single.keys() == accumulated.keys()
    for step in single:
        assert accumulated[step] == pytest.approx(single[step], rel=1e-5), step
