"""`quilt demo`: the whole chain on the sample corpus, as the README's first command runs it."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset
from huggingface_hub import ModelCard
from transformers import CLIPModel

from quilt_hf.cli import main


@pytest.mark.slow
def test_demo_runs_the_whole_chain_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--steps", "12"]) == 0
    printed = capsys.readouterr().out
    assert "quilt demo: done" in printed and "training loss: first" in printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["counts"]) == {"quilt", "openpath", "pubmed", "laion"}
    assert all(sum(split.values()) > 0 for split in summary["counts"].values())
    assert summary["loss_last"] < summary["loss_first"]
    assert 0.0 <= summary["zeroshot"]["quilt_sample"]["accuracy"] <= 1.0
    assert "image_to_text_R@1" in summary["retrieval"]
    ds = load_dataset(str(out / "quilt_1m"))
    assert set(ds) == {"train", "val"}
    CLIPModel.from_pretrained(out / "run" / "final")
    card = ModelCard.load(out / "run" / "final" / "README.md")
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    # a rerun resumes: nothing is trained again
    final_weights = out / "run" / "final" / "model.safetensors"
    mtime = final_weights.stat().st_mtime
    assert main(["demo", "--out", str(out), "--steps", "12"]) == 0
    assert final_weights.stat().st_mtime == mtime
