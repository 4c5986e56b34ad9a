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
    # the summary carries the numbers `quilt eval` wrote (checked against scikit-learn elsewhere)
    [zeroshot_file] = (out / "eval").glob("quilt_sample__*__zeroshot.json")
    zeroshot = json.loads(zeroshot_file.read_text())["metrics"]
    assert summary["zeroshot"]["quilt_sample"]["accuracy"] == zeroshot["accuracy"]
    assert "image_to_text_R@1" in summary["retrieval"]
    ds = load_dataset(str(out / "quilt_1m"))
    assert set(ds) == {"train", "val"}

    # the gallery (`quilt inspect`) shows every row and one timeline per lecture, with the static
    # windows that only the lectures' process folders know
    gallery = out / "gallery" / "index.html"
    assert summary["gallery"] == str(gallery) and f"gallery     {gallery}" in printed
    index = (out / "gallery" / "data" / "index.js").read_text()
    assert json.loads(index[index.index("(") + 1 : index.rindex(")")])["total"] == sum(
        len(split) for split in ds.values()
    )
    lectures = {
        row["source_id"] for split in ds.values() for row in split if row["subset"] == "quilt"
    }
    pages = {page.stem for page in (out / "gallery" / "videos").glob("*.html")} - {"index"}
    assert lectures and pages == lectures
    assert all(
        "static-window" in (out / "gallery" / "videos" / f"{p}.html").read_text() for p in pages
    )
    # the training report (`quilt report`): curves, the zero-shot chart and the model card
    report = out / "report" / "index.html"
    assert summary["report"] == str(report) and f"report      {report}" in printed
    for name in ("loss.png", "recall.png", "zeroshot_accuracy.png", "model_card.html"):
        assert (out / "report" / name).stat().st_size > 0, name
    assert "quilt_sample" in report.read_text()
    CLIPModel.from_pretrained(out / "run" / "final")
    card = ModelCard.load(out / "run" / "final" / "README.md")
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    # a rerun resumes: nothing is trained again
    final_weights = out / "run" / "final" / "model.safetensors"
    mtime = final_weights.stat().st_mtime
    assert main(["demo", "--out", str(out), "--steps", "12"]) == 0
    assert final_weights.stat().st_mtime == mtime
