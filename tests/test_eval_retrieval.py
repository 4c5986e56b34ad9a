"""Retrieval Recall@K: chunked vs brute force vs CLIP_benchmark, many-to-many positives, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clipbench_peer import needs_clipbench, run_clipbench

from quilt_hf.cli import main
from quilt_hf.eval.retrieval import load_pairs, pairs_from_rows, recall_at_k
from quilt_hf.synthetic.tiny_clip import many_to_many_rows, save_tiny_clip, write_quilt_folder

CLIPBENCH_RETRIEVAL = r"""
import json, sys
import numpy as np, torch
from clip_benchmark.metrics import zeroshot_retrieval as zr

folder = sys.argv[1]
images = torch.from_numpy(np.load(f"{folder}/images.npy"))
texts = torch.from_numpy(np.load(f"{folder}/texts.npy"))
owner = np.load(f"{folder}/owner.npy")

class PrecomputedModel:
    def encode_text(self, ids): return texts[ids]
    def encode_image(self, ids): return images[ids]

def tokenizer(names): return torch.tensor([int(n) for n in names])

captions = [[str(t) for t in np.flatnonzero(owner == i)] for i in range(len(images))]
loader = [(torch.arange(s, min(s + 16, len(images))), captions[s:s + 16]) for s in range(0, len(images), 16)]
print(json.dumps(zr.evaluate(PrecomputedModel(), loader, tokenizer, "cpu", amp=False, recall_k_list=[1, 5, 10])))
"""


def synthetic(num_images: int = 120, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(num_images, dim)).astype(np.float32)
    owner = np.repeat(np.arange(num_images), rng.integers(1, 4, num_images))
    texts = images[owner] + 1.2 * rng.normal(size=(owner.size, dim)).astype(np.float32)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    return images, texts, owner


def brute_force(images, texts, owner, k):
    scores = images @ texts.T
    i2t = np.mean([np.isin(i, owner[np.argsort(-scores[i])[:k]]) for i in range(len(images))])
    t2i = np.mean([owner[t] in np.argsort(-scores[:, t])[:k] for t in range(len(texts))])
    return i2t, t2i


@pytest.mark.parametrize("chunk_size", [7, 64, 10_000])
def test_chunked_recall_matches_brute_force(chunk_size: int) -> None:
    images, texts, owner = synthetic()
    got = recall_at_k(images, texts, owner, ks=(1, 5, 10, 50), chunk_size=chunk_size)
    for k in (1, 5, 10, 50):
        i2t, t2i = brute_force(images, texts, owner, k)
        assert got[f"image_to_text_R@{k}"] == pytest.approx(i2t)
        assert got[f"text_to_image_R@{k}"] == pytest.approx(t2i)
    assert 0.0 < got["image_to_text_R@1"] < got["image_to_text_R@10"] < 1.0


def test_an_image_is_a_hit_when_any_of_its_texts_is_retrieved() -> None:
    images = np.eye(3, dtype=np.float32)
    # image 0 owns texts 0 and 1; text 1 is the one closest to it
    texts = np.array([[0, 0.9, 0.1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    owner = np.array([0, 0, 1, 2])
    got = recall_at_k(images, texts, owner, ks=(1,))
    assert got["image_to_text_R@1"] == 1.0
    assert got["text_to_image_R@1"] == 0.75  # text 0 points at image 1


def test_pairs_group_rows_by_image_sha() -> None:
    rows = many_to_many_rows(5)
    pairs = pairs_from_rows(rows)
    assert len(pairs.images) == 5 and len(pairs.texts) == len(rows)
    assert np.bincount(pairs.text_image).tolist() == [1, 2, 1, 2, 1]


def test_rows_without_an_image_key_are_images_of_their_own() -> None:
    """The one grouping (image_groups.image_codes), also the trainer's: keyed images in order of
    first appearance, then each row without a key (null or "") as an image of its own."""
    shas = ["a", None, "a", "", "b"]
    rows = [{"image": i, "caption": f"t{i}", "image_sha256": sha} for i, sha in enumerate(shas)]
    pairs = pairs_from_rows(rows)
    assert pairs.text_image.tolist() == [0, 2, 0, 3, 1]
    assert pairs.images == [0, 4, 1, 3] and pairs.texts == [f"t{i}" for i in range(5)]


@needs_clipbench
def test_recall_matches_clip_benchmark(tmp_path: Path) -> None:
    images, texts, owner = synthetic(seed=3)
    for name, array in (("images", images), ("texts", texts), ("owner", owner)):
        np.save(tmp_path / f"{name}.npy", array)
    theirs = run_clipbench(CLIPBENCH_RETRIEVAL, tmp_path)
    ours = recall_at_k(images, texts, owner, ks=(1, 5, 10), chunk_size=32)
    for k in (1, 5, 10):
        # CLIP_benchmark: "image retrieval" = text->image, "text retrieval" = image->text
        assert ours[f"text_to_image_R@{k}"] == pytest.approx(
            theirs[f"image_retrieval_recall@{k}"], abs=1e-6
        )
        assert ours[f"image_to_text_R@{k}"] == pytest.approx(
            theirs[f"text_retrieval_recall@{k}"], abs=1e-6
        )


def test_cli_retrieval_on_a_quilt_folder(tmp_path: Path) -> None:
    folder = write_quilt_folder(
        tmp_path / "quilt_1m",
        {"train": many_to_many_rows(3), "val": many_to_many_rows(6, offset=10)},
    )
    pairs = load_pairs(str(folder), "val")
    assert len(pairs.images) == 6 and len(pairs.texts) == 9
    model = save_tiny_clip(tmp_path / "model")
    out = tmp_path / "results"
    assert (
        main(
            [
                "eval",
                "retrieval",
                "--model",
                str(model),
                "--data",
                str(folder),
                "--out",
                str(out),
                "--ks",
                "1",
                "5",
                "10",
                "--chunk-size",
                "4",
            ]
        )
        == 0
    )
    payload = json.loads((out / "quilt_1m_val__model__retrieval.json").read_text())
    assert payload["num_images"] == 6 and payload["num_texts"] == 9
    assert payload["metrics"]["image_to_text_R@10"] == 1.0  # 9 texts: everything is in the top 10
    # the CLI's numbers are the tiny model's, ranked here by brute force from its embeddings
    from quilt_hf.eval.embeddings import load_clip

    encoder = load_clip(str(model))
    images, texts = encoder.encode_images(pairs.images), encoder.encode_texts(pairs.texts)
    for k in (1, 5):
        i2t, t2i = brute_force(images, texts, pairs.text_image, k)
        assert payload["metrics"][f"image_to_text_R@{k}"] == pytest.approx(i2t, abs=1e-6)
        assert payload["metrics"][f"text_to_image_R@{k}"] == pytest.approx(t2i, abs=1e-6)
    # the model folder's card now carries the result (model-index and .eval_results/)
    from huggingface_hub import ModelCard

    card = ModelCard.load(model / "README.md")
    index = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert index["text_to_image_R@1"] == round(payload["metrics"]["text_to_image_R@1"], 6)
    assert (model / ".eval_results" / "quilt_1m_val.yaml").is_file()
    other = save_tiny_clip(tmp_path / "other")
    common = ["--model", str(other), "--data", str(folder), "--out", str(tmp_path / "r2")]
    assert main(["eval", "retrieval", *common, "--no-card"]) == 0
    assert not (other / "README.md").exists()
    assert not (other / "eval_results").exists() and not (other / ".eval_results").exists()
