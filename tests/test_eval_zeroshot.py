"""Zero-shot classification: class embeddings, metrics against CLIP_benchmark, the CLI offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clipbench_peer import needs_clipbench, run_clipbench

from quilt_hf.cli import main
from quilt_hf.errors import QuiltError
from quilt_hf.eval.downstream import BENCHMARKS, get_benchmark, load_benchmark
from quilt_hf.eval.embeddings import load_clip
from quilt_hf.eval.zeroshot import (
    class_embeddings,
    prompts_for,
    zeroshot_metrics,
    zeroshot_scores,
)
from quilt_hf.synthetic.tiny_clip import many_to_many_rows, save_tiny_clip, write_quilt_folder

CLIPBENCH_ZEROSHOT = r"""
import json, sys, types
import numpy as np, torch
from clip_benchmark.metrics import zeroshot_classification as zc

folder = sys.argv[1]
spec = json.load(open(f"{folder}/spec.json"))
prompt_emb = torch.from_numpy(np.load(f"{folder}/prompts.npy"))
image_emb = torch.from_numpy(np.load(f"{folder}/images.npy"))
labels = torch.from_numpy(np.load(f"{folder}/labels.npy"))
row_of = {p: i for i, p in enumerate(spec["prompts"])}

class PrecomputedModel:  # CLIP-like: "tokens" are row numbers into the saved embeddings
    def encode_text(self, ids): return prompt_emb[ids]
    def encode_image(self, ids): return image_emb[ids]

def tokenizer(texts): return torch.tensor([row_of[t] for t in texts])

class Loader(list):
    dataset = types.SimpleNamespace(classes=spec["classnames"])

n = len(labels)
loader = Loader((torch.arange(s, min(s + 7, n)), labels[s:s + 7]) for s in range(0, n, 7))
prompts_by_class = dict(zip(spec["classnames"], spec["prompts_per_class"]))
model = PrecomputedModel()
classifier = zc.zero_shot_classifier(model, tokenizer, spec["classnames"], prompts_by_class, "cpu", amp=False)
metrics = zc.evaluate(model, loader, tokenizer, spec["classnames"], prompts_by_class, "cpu", amp=False)
np.save(f"{folder}/classifier.npy", classifier.T.numpy())
print(json.dumps(metrics))
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


def test_class_embedding_is_normalised_mean_of_prompt_embeddings(tiny_model: Path) -> None:
    encoder = load_clip(str(tiny_model))
    classnames = [["tumour", "carcinoma"], ["normal tissue"]]
    templates = ["a histopathology image of {c}", "{c}"]
    got = class_embeddings(encoder, classnames, templates)
    prompts = prompts_for(classnames, templates)
    assert prompts[0] == [
        "a histopathology image of tumour",
        "tumour",
        "a histopathology image of carcinoma",
        "carcinoma",
    ]
    for row, class_prompts in zip(got, prompts, strict=True):
        each = encoder.encode_texts(class_prompts)
        mean = each.mean(axis=0)
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), atol=1e-6)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


@needs_clipbench
def test_zeroshot_matches_clip_benchmark_on_same_embeddings(
    tiny_model: Path, tmp_path: Path
) -> None:
    """CLIP_benchmark's own code scores the same embeddings; every number agrees to 1e-6."""
    encoder = load_clip(str(tiny_model))
    bench = get_benchmark("nct_crc")  # 9 classes: top-5 is reported
    data_rng = np.random.default_rng(0)
    images = load_benchmark("quilt_sample").images * 2  # 96 real tiles
    labels = data_rng.integers(0, len(bench.classes), len(images))
    per_class = prompts_for(bench.classnames, bench.templates)
    flat = [p for prompts in per_class for p in prompts]
    prompt_embeddings = encoder.encode_texts(flat)
    image_embeddings = encoder.encode_images(images)

    ours_classifier = class_embeddings(encoder, bench.classnames, bench.templates)
    ours = zeroshot_metrics(zeroshot_scores(image_embeddings, ours_classifier), labels)

    np.save(tmp_path / "prompts.npy", prompt_embeddings)
    np.save(tmp_path / "images.npy", image_embeddings)
    np.save(tmp_path / "labels.npy", labels)
    spec = {"classnames": bench.display_names, "prompts": flat, "prompts_per_class": per_class}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    theirs = run_clipbench(CLIPBENCH_ZEROSHOT, tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "classifier.npy"), ours_classifier, atol=1e-6)
    assert ours["accuracy"] == pytest.approx(theirs["acc1"], abs=1e-6)
    assert ours["top5_accuracy"] == pytest.approx(theirs["acc5"], abs=1e-6)
    assert ours["balanced_accuracy"] == pytest.approx(theirs["mean_per_class_recall"], abs=1e-6)
    assert 0.0 < ours["top5_accuracy"] < 1.0  # a real, non-degenerate comparison


def test_registry_lists_the_paper_benchmarks() -> None:
    for name in ("pcam", "nct_crc", "sicapv2", "databiox", "bach", "osteo", "renal_cell"):
        assert name in BENCHMARKS
    for name in ("skin_cancer", "mhist", "lc25000_lung", "lc25000_colon"):
        assert len(BENCHMARKS[name].classes) >= 2
    assert len(BENCHMARKS["skin_cancer"].classes) == 16
    assert all("{c}" in t for b in BENCHMARKS.values() for t in b.templates)


def test_unknown_benchmark_is_a_clear_error() -> None:
    with pytest.raises(QuiltError, match="unknown benchmark 'pcamm'.*pcam"):
        get_benchmark("pcamm")


def test_imagefolder_and_csv_loaders(tmp_path: Path) -> None:
    tiles = load_benchmark("quilt_sample").images[:6]
    for i, tile in enumerate(tiles):
        label = ["colon_aca", "colon_n"][i % 2]
        (tmp_path / "folder" / label).mkdir(parents=True, exist_ok=True)
        tile.save(tmp_path / "folder" / label / f"{i}.png")
    data = load_benchmark("lc25000_colon", str(tmp_path / "folder"))
    assert sorted(data.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    csv = tmp_path / "folder" / "labels.csv"
    lines = ["image,label"] + [
        f"{['colon_aca', 'colon_n'][i % 2]}/{i}.png,{['colon_aca', 'colon_n'][i % 2]}"
        for i in range(6)
    ]
    csv.write_text("\n".join(lines) + "\n")
    data = load_benchmark("lc25000_colon", str(csv))
    assert data.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert data.images[1].size == (96, 96)
    with pytest.raises(QuiltError, match=r"match no class of 'mhist'"):
        load_benchmark("mhist", str(tmp_path / "folder" / "labels.csv"))


def test_missing_label_column_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_quilt_folder(
        tmp_path / "q", {"train": many_to_many_rows(2), "val": many_to_many_rows(4)}
    )
    data = load_benchmark("quilt_magnification", str(folder))
    assert set(data.labels.tolist()) <= {0, 1, 2} and len(data.labels) > 0
    with pytest.raises(QuiltError, match="no label column 'label'.*columns are"):
        load_benchmark("pcam", str(folder), split="val")


def test_model_without_text_tower_is_refused(tmp_path: Path) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    CLIPVisionModel(config).save_pretrained(tmp_path / "vision_only")
    with pytest.raises(QuiltError, match="without a text tower"):
        load_clip(str(tmp_path / "vision_only"))


def test_cli_zeroshot_runs_offline_on_the_sample_benchmark(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    chart = tmp_path / "chart.png"
    code = main(
        [
            "eval",
            "zeroshot",
            "--model",
            str(tiny_model),
            "--benchmark",
            "quilt_sample",
            "--out",
            str(out),
            "--plot",
            str(chart),
        ]
    )
    assert code == 0
    [result_file] = list(out.glob("*.json"))
    assert result_file.name == f"quilt_sample__{tiny_model.name}__zeroshot.json"
    payload = json.loads(result_file.read_text())
    assert payload["num_images"] == 48 and payload["num_classes"] == 2
    # the CLI's number is the tiny model's, scored here with scikit-learn from its embeddings
    from sklearn.metrics import balanced_accuracy_score

    encoder, bench = load_clip(str(tiny_model)), get_benchmark("quilt_sample")
    data = load_benchmark("quilt_sample")
    classifier = class_embeddings(encoder, bench.classnames, bench.templates)
    predicted = (encoder.encode_images(data.images) @ classifier.T).argmax(axis=1)
    expected = balanced_accuracy_score(data.labels, predicted)
    assert payload["metrics"]["balanced_accuracy"] == pytest.approx(expected, abs=1e-6)
    assert "top5_accuracy" not in payload["metrics"]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["eval", "zeroshot", "--model", str(tiny_model), "--benchmark", "nope"]) == 1
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
