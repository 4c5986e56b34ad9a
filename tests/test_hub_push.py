"""Push then pull through the loopback Hub double: models, datasets, PRs, branches, failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hub_double import HubDouble

from quilt_hf.synthetic.tiny_clip import many_to_many_rows, save_tiny_clip, write_quilt_folder

TOKEN = "hf_double_secret_4242"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def hub():
    double = HubDouble(TOKEN).start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny CLIP with a card written by `quilt card model` (push refuses one without)."""
    folder = save_tiny_clip(tmp_path_factory.mktemp("push") / "final")
    done = subprocess.run(
        [sys.executable, "-m", "quilt_hf", "card", "model", str(folder), "--base-model",
         "openai/clip-vit-base-patch32", "--dataset", "quilt_1m"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no training record; 0 eval result(s)" in done.stdout
    return folder


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ds") / "quilt_1m"
    return write_quilt_folder(
        folder, {"train": many_to_many_rows(4), "val": many_to_many_rows(3, offset=20)}
    )


def hub_env(hub: HubDouble, tmp_path: Path, token: str | None = TOKEN) -> dict[str, str]:
    return hub.client_env(tmp_path, token)


def quilt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quilt_hf", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def python(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_model_push_then_pull_with_transformers(
    hub: HubDouble, model_dir: Path, tmp_path: Path
) -> None:
    env = hub_env(hub, tmp_path)
    done = quilt(env, "push", "model", str(model_dir), "--repo-id", "org/quiltnet-tiny")
    assert done.returncode == 0, done.stderr
    files = hub.files("model", "org/quiltnet-tiny")
    assert {"config.json", "model.safetensors", "processor_config.json"} <= set(files)
    assert files["model.safetensors"] == (model_dir / "model.safetensors").read_bytes()
    assert (
        "model.safetensors" in hub.state.repos[("model", "org/quiltnet-tiny")].lfs
    )  # went via LFS
    pulled = python(
        env,
        f"""
import numpy as np, torch
from PIL import Image
from transformers import CLIPModel, pipeline
model = CLIPModel.from_pretrained("org/quiltnet-tiny")
local = CLIPModel.from_pretrained({str(model_dir)!r})
assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), local.state_dict().values()))
classify = pipeline("zero-shot-image-classification", model="org/quiltnet-tiny")
out = classify(Image.new("RGB", (40, 40), "purple"), candidate_labels=["tumour", "stroma", "fat"])
assert sorted(o["label"] for o in out) == ["fat", "stroma", "tumour"], out
print("PULL-OK", round(sum(o["score"] for o in out), 4))
""",
    )
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert "PULL-OK 1.0" in pulled.stdout
    for stream in (done.stdout, done.stderr, pulled.stdout, pulled.stderr):
        assert TOKEN not in stream


def test_dataset_push_then_load_dataset(hub: HubDouble, dataset_dir: Path, tmp_path: Path) -> None:
    env = hub_env(hub, tmp_path)
    done = quilt(
        env,
        "push",
        "dataset",
        str(dataset_dir),
        "--repo-id",
        "org/quilt_1m",
        "--private",
        "--gated",
        "auto",
    )
    assert done.returncode == 0, done.stderr
    repo = hub.state.repos[("dataset", "org/quilt_1m")]
    assert repo.private and repo.gated == "auto"
    pulled = python(
        env,
        """
from datasets import load_dataset
ds = load_dataset("org/quilt_1m")
print("SPLITS", sorted(ds), len(ds["train"]), len(ds["val"]))
print("IMAGE", type(ds["val"][0]["image"]).__name__, ds["val"][0]["image_sha256"][:8])
""",
    )
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert "SPLITS ['train', 'val'] 6 4" in pulled.stdout
    assert "IMAGE JpegImageFile" in pulled.stdout
    anonymous = python(
        hub_env(hub, tmp_path / "anon", token=None),
        """
from datasets import load_dataset
from datasets.exceptions import DatasetNotFoundError
try:
    load_dataset("org/quilt_1m")
except DatasetNotFoundError as error:  # what datasets raises for a private repo without a token
    print("REFUSED", error)
""",
    )
    # any other exception (a crash in our files, a network error) fails here, not "refused"
    assert "REFUSED" in anonymous.stdout, anonymous.stderr[-2000:]
    assert "org/quilt_1m" in anonymous.stdout


def test_push_without_token_is_refused(hub: HubDouble, model_dir: Path, tmp_path: Path) -> None:
    done = quilt(
        hub_env(hub, tmp_path, token=None), "push", "model", str(model_dir), "--repo-id", "org/x"
    )
    assert done.returncode == 1
    assert "needs a Hugging Face token" in done.stderr
    assert not hub.state.repos


@pytest.mark.slow
def test_existing_repo_pr_and_branch(hub: HubDouble, model_dir: Path, tmp_path: Path) -> None:
    env = hub_env(hub, tmp_path)
    assert quilt(env, "push", "model", str(model_dir), "--repo-id", "org/m").returncode == 0
    again = quilt(env, "push", "model", str(model_dir), "--repo-id", "org/m")
    assert (
        again.returncode == 1 and "already exists" in again.stderr and "--exist-ok" in again.stderr
    )
    pr = quilt(
        env, "push", "model", str(model_dir), "--repo-id", "org/m", "--exist-ok", "--create-pr"
    )
    assert pr.returncode == 0, pr.stderr
    assert "pull request: " in pr.stdout and "/discussions/1" in pr.stdout
    branch = quilt(
        env,
        "push",
        "model",
        str(model_dir),
        "--repo-id",
        "org/m",
        "--exist-ok",
        "--revision",
        "v1",
        "--message",
        "release v1",
    )
    assert branch.returncode == 0, branch.stderr
    repo = hub.state.repos[("model", "org/m")]
    assert {"main", "refs/pr/1", "v1"} <= set(repo.refs)
    assert repo.messages[-1] == "release v1"
    pulled = python(
        env,
        "from transformers import CLIPModel; CLIPModel.from_pretrained('org/m', revision='v1'); print('V1-OK')",
    )
    assert "V1-OK" in pulled.stdout, pulled.stderr[-2000:]


def test_network_error_mid_upload_retries_then_errors_then_rerun_finishes(
    hub: HubDouble, model_dir: Path, tmp_path: Path
) -> None:
    env = hub_env(hub, tmp_path)
    hub.state.fail_next["/commit/"] = 1  # one transient failure: retried, upload completes
    done = quilt(env, "push", "model", str(model_dir), "--repo-id", "org/flaky")
    assert done.returncode == 0, done.stderr
    assert "attempt 1/3 failed" in done.stderr
    hub.state.fail_next["/commit/"] = 10  # persistent failure: clear error, nothing committed
    failed = quilt(
        env, "push", "model", str(model_dir), "--repo-id", "org/flaky2", "--retries", "2"
    )
    assert failed.returncode == 1
    assert "failed after 2 attempts" in failed.stderr and "rerun" in failed.stderr
    assert set(hub.files("model", "org/flaky2")) == {".gitattributes"}
    assert TOKEN not in failed.stderr
    hub.state.fail_next.clear()
    rerun = quilt(env, "push", "model", str(model_dir), "--repo-id", "org/flaky2", "--exist-ok")
    assert rerun.returncode == 0, rerun.stderr
    assert "model.safetensors" in hub.files("model", "org/flaky2")


def test_bad_folders_are_refused(hub: HubDouble, tmp_path: Path) -> None:
    env = hub_env(hub, tmp_path)
    (tmp_path / "empty").mkdir()
    done = quilt(env, "push", "model", str(tmp_path / "empty"), "--repo-id", "org/e")
    assert done.returncode == 1 and "no config.json" in done.stderr
    done = quilt(env, "push", "dataset", str(tmp_path / "empty"), "--repo-id", "org/e")
    assert done.returncode == 1 and "README.md" in done.stderr
    no_card = save_tiny_clip(tmp_path / "no_card")
    done = quilt(env, "push", "model", str(no_card), "--repo-id", "org/e")
    assert done.returncode == 1 and "no model card" in done.stderr
    assert f"quilt card model {no_card}" in done.stderr
    assert not hub.state.repos


@pytest.mark.slow
def test_trained_evaluated_pushed_model_has_a_full_card(
    hub: HubDouble, model_dir: Path, tmp_path: Path
) -> None:
    """accelerate launch trainer/ (from a Hub checkpoint) -> quilt eval -> quilt push model: the
    card on the Hub has pipeline_tag, datasets, base_model and the eval results in model-index."""
    from huggingface_hub import ModelCard

    from quilt_hf.synthetic.trainer_dataset import write_tiny_dataset

    env = hub_env(hub, tmp_path)
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="0")
    base = quilt(env, "push", "model", str(model_dir), "--repo-id", "org/tiny-base")
    assert base.returncode == 0, base.stderr  # the checkpoint training starts from, on the Hub
    dataset = write_tiny_dataset(tmp_path / "quilt_1m", num_train=24, num_val=6)
    run_dir = tmp_path / "run"
    accelerate = [str(Path(sys.executable).parent / "accelerate"), "launch", "--cpu",
                  "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
                  "--dynamo_backend", "no", "trainer/", "--config", "trainer/configs/tiny.yaml",
                  "--model_config", "null", "--model", "org/tiny-base", "--dataset", str(dataset),
                  "--output_dir", str(run_dir), "--max_steps", "2", "--eval_every", "2",
                  "--per_device_batch_size", "8", "--report_to", "none"]  # fmt: skip
    trained = subprocess.run(
        accelerate, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    final = run_dir / "final"
    evaluated = quilt(env, "eval", "retrieval", "--model", str(final), "--data", str(dataset),
                      "--split", "val", "--out", str(tmp_path / "eval"))  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "model card updated" in evaluated.stdout
    zeroshot = quilt(env, "eval", "zeroshot", "--model", str(final), "--benchmark",
                     "quilt_sample", "--limit", "8", "--out", str(tmp_path / "eval"))  # fmt: skip
    assert zeroshot.returncode == 0, zeroshot.stderr[-3000:]
    pushed = quilt(env, "push", "model", str(final), "--repo-id", "org/quiltnet-trained")
    assert pushed.returncode == 0, pushed.stderr[-3000:]

    files = hub.files("model", "org/quiltnet-trained")
    assert {"README.md", "training_run.json", ".eval_results/quilt_1m_val.yaml"} <= set(files)
    assert "zeroshot_accuracy.png" in files
    card_path = tmp_path / "pulled_README.md"
    card_path.write_bytes(files["README.md"])
    card = ModelCard.load(card_path)
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    assert card.data.library_name == "transformers"
    assert card.data.datasets == ["quilt_1m"]
    assert card.data.base_model == "org/tiny-base"  # the checkpoint training started from
    results = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    saved = json.loads(
        next((tmp_path / "eval").glob("quilt_1m_val__*__retrieval.json")).read_text()
    )
    assert results[("quilt_1m_val", "image_to_text_R@1")] == round(
        saved["metrics"]["image_to_text_R@1"], 6
    )
    assert ("quilt_sample", "accuracy") in results
    assert 'CLIPModel.from_pretrained("org/quiltnet-trained")' in card.text
    # training-time recall is on the card under quilt eval's names
    run = json.loads((final / "training_run.json").read_text())
    value = run["training_eval"]["text_to_image_R@1"]
    assert f"| text_to_image_R@1 | {value:.4f} |" in card.text
    assert TOKEN not in files["README.md"].decode()
