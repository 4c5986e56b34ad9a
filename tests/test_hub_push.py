"""Push then pull through the loopback Hub double: models, datasets, PRs, branches, failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_double import HubDouble

from quilt_hf.synthetic.tiny_clip import many_to_many_rows, save_tiny_clip, write_quilt_folder

TOKEN = "hf_double_secret_4242"


@pytest.fixture()
def hub():
    double = HubDouble(TOKEN).start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("push") / "final")


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ds") / "quilt_1m"
    return write_quilt_folder(
        folder, {"train": many_to_many_rows(4), "val": many_to_many_rows(3, offset=20)}
    )


def hub_env(hub: HubDouble, tmp_path: Path, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_DATASETS_CACHE=str(tmp_path / "ds_cache"),
    )
    if token:
        env["HF_TOKEN"] = token
    return env


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
try:
    load_dataset("org/quilt_1m")
except Exception as error:
    print("REFUSED", type(error).__name__)
""",
    )
    assert "REFUSED" in anonymous.stdout, anonymous.stderr[-2000:]


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
