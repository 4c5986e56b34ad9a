"""End to end: the tiny config on the tiny dataset under each launcher, resume, the final
checkpoint in transformers and its model card. Several processes: test_trainer_multiprocess.py."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from quilt_hf.synthetic.trainer_dataset import write_tiny_dataset

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HOOK_CALLS = "QUILT_TEST_HOOK_FILE"


def record_hook(model, processor, step: int) -> dict[str, float]:
    """An eval hook (as the full evaluation suite would plug in) that leaves a trace."""
    with open(os.environ[HOOK_CALLS], "a") as handle:
        handle.write(f"{step} {type(model).__name__} {type(processor).__name__}\n")
    return {"hook_metric": float(step)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("e2e") / "quilt_1m", num_train=40, num_val=8)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=f"{TESTS}{os.pathsep}{env.get('PYTHONPATH', '')}",
        HF_DATASETS_CACHE=str(tmp / "hf_cache"),
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
    )
    env[HOOK_CALLS] = str(tmp / "hook_calls.txt")
    return env


def run(
    launcher: list[str], args: list[str], tmp: Path, timeout: int = 240
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*launcher, *args], cwd=REPO, env=_env(tmp), capture_output=True, text=True, timeout=timeout
    )
    return result


def tiny_args(dataset: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--config", "trainer/configs/tiny.yaml", "--dataset", str(dataset), "--output_dir", str(out),
        "--report_to", "none", "--eval_split", "null", *extra,
    ]  # fmt: skip


ACCELERATE = [str(BIN / "accelerate"), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
PYTHON_M = [sys.executable, "-m", "trainer"]


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_accelerate_launch_folder_end_to_end(dataset, tmp_path):
    out = tmp_path / "run"
    args = tiny_args(dataset, out, "--max_steps", "6", "--eval_split", "val", "--eval_every", "3",
                     "--report_to", "tensorboard", "--eval_hooks", "test_trainer_e2e:record_hook")  # fmt: skip
    result = run([*ACCELERATE, "trainer/"], args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    records = _records(out)
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval/loss" in r]
    assert [r["step"] for r in evals] == [3, 6]
    assert {
        "eval/image_to_text_R@1",
        "eval/text_to_image_R@5",
        "eval/image_to_text_R@10",
        "eval/hook_metric",
    } <= set(evals[-1])
    assert evals[-1]["eval/hook_metric"] == 6.0
    assert (
        (tmp_path / "hook_calls.txt")
        .read_text()
        .split("\n")[0]
        .startswith("3 CLIPModel CLIPProcessor")
    )
    assert train[-1]["skipped_corrupt_image"] >= 1  # the corrupt row was skipped and counted
    assert train[-1]["truncated_texts"] >= 1  # the long caption was truncated and counted
    assert all(r["logit_scale"] <= 100.0 for r in train)
    assert train[-1]["loss"] < train[0]["loss"]
    assert "texts truncated to 77 tokens" in result.stdout + result.stderr
    resolved = (out / "config.yaml").read_text()
    assert "max_steps: 6" in resolved and "eval_every: 3" in resolved
    assert list((out / "logs").rglob("events.out.tfevents*")), "tensorboard wrote no events"
    assert not (out / "checkpoints").exists()  # checkpoint_every 10 > 6 steps

    from transformers import CLIPModel, pipeline

    final = out / "final"
    assert (final / "model.safetensors").is_file()
    from huggingface_hub import ModelCard

    card = ModelCard.load(final / "README.md")
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    assert card.data.library_name == "transformers" and card.data.datasets == ["quilt_1m"]
    assert card.data.base_model is None  # a random init (model_config), not a checkpoint
    recall = evals[-1]["eval/image_to_text_R@5"]
    assert f"| image_to_text_R@5 | {recall:.4f} |" in card.text  # the same name as quilt eval
    assert "Optimizer steps: 6" in card.text and "eval_every: 3" in card.text
    model = CLIPModel.from_pretrained(final)
    assert model.config.projection_dim == 32
    classifier = pipeline("zero-shot-image-classification", model=str(final))
    from PIL import Image
    from skimage.data import immunohistochemistry

    scores = classifier(
        Image.fromarray(immunohistochemistry()[:96, :96]), candidate_labels=["tumor", "stroma"]
    )
    assert {s["label"] for s in scores} == {"tumor", "stroma"}
    assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["accelerate-m", "python-m"])
def test_module_launchers(dataset, tmp_path, launcher):
    """accelerate -m: locked text tower; python -m: bf16 autocast and gradient accumulation."""
    out = tmp_path / "run"
    if launcher == "accelerate-m":
        cmd = [*ACCELERATE, "-m", "trainer"]
        extra = ["--lock_text", "true", "--checkpoint_every", "1", "--eval_split", "val",
                 "--eval_every", "0"]  # fmt: skip
    else:
        cmd = PYTHON_M
        extra = ["--mixed_precision", "bf16", "--gradient_accumulation_steps", "2"]
    result = run(cmd, tiny_args(dataset, out, "--max_steps", "2", *extra), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2
    final = load_file(str(out / "final" / "model.safetensors"))
    if launcher == "accelerate-m":
        first = load_file(str(out / "checkpoints" / "checkpoint_0" / "model.safetensors"))
        for key in final:
            if key.startswith(("text_model.", "text_projection.")):
                assert torch.equal(first[key], final[key]), key
        assert not torch.equal(first["visual_projection.weight"], final["visual_projection.weight"])
        # eval_every 0: no evaluation at all, also not at the end
        assert not [r for r in _records(out) if "eval/loss" in r]
        assert "training_eval" not in json.loads((out / "final" / "training_run.json").read_text())
    else:
        # 2 optimizer steps x 2 micro-batches x 16 = 64 items drawn (a skipped one is counted)
        assert summary["samples"] + summary["skipped"]["corrupt_image"] == 64


def kill_after_first_checkpoint(command: list[str], out: Path, tmp: Path) -> None:
    """Start a training run and SIGKILL it (its whole process group, DataLoader workers included,
    as a dead machine would) as soon as its first checkpoint is complete."""
    log = (tmp / "killed.log").open("w")
    job = subprocess.Popen(
        command, cwd=REPO, env=_env(tmp), stdout=log, stderr=log, start_new_session=True
    )
    first = out / "checkpoints" / "checkpoint_0" / "checkpoint_complete"
    deadline = time.monotonic() + 240
    while not first.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert first.exists(), (tmp / "killed.log").read_text()[-4000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
        log.close()
    assert job.returncode == -signal.SIGKILL
    assert not (out / "final").exists(), "the run finished before it was killed"


@pytest.mark.slow
def test_killed_and_resumed_equals_uninterrupted(dataset, tmp_path):
    # 41 unique images at 12 per batch: 3 batches per epoch (last partial one dropped); the step-2
    # checkpoint is mid-epoch, so resuming from it must skip 2 batches of epoch 0, then cross into
    # epoch 1 (a kill landing after the step-4 checkpoint resumes mid-epoch 1 instead).
    steps = ["--max_steps", "6", "--checkpoint_every", "2", "--checkpoints_total_limit", "2",
             "--per_device_batch_size", "12"]  # fmt: skip
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    first = run(PYTHON_M, tiny_args(dataset, whole, *steps), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    kill_after_first_checkpoint([*PYTHON_M, *tiny_args(dataset, parted, *steps)], parted, tmp_path)
    resumed = run(PYTHON_M, tiny_args(dataset, parted, *steps, "--resume_from", "latest"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resumed_at = re.search(r"resumed from \S+ at step (\d+)", resumed.stdout + resumed.stderr)
    assert resumed_at and int(resumed_at.group(1)) in (2, 4), resumed.stderr[-3000:]
    # checkpoints after the resumed step are written again, each one whole; the limit keeps two
    kept = sorted((parted / "checkpoints").iterdir())
    assert [p.name for p in kept] == ["checkpoint_1", "checkpoint_2"]
    assert all((p / "checkpoint_complete").is_file() for p in kept)
    a = load_file(str(whole / "final" / "model.safetensors"))
    b = load_file(str(parted / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    start = load_file(str(whole / "checkpoints" / "checkpoint_1" / "model.safetensors"))
    assert not torch.equal(start["visual_projection.weight"], a["visual_projection.weight"])
    whole_losses = {r["step"]: r["loss"] for r in _records(whole) if "loss" in r}
    parted_losses = {r["step"]: r["loss"] for r in _records(parted) if "loss" in r}
    assert parted_losses[6] == pytest.approx(whole_losses[6], rel=1e-5)
