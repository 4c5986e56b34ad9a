"""Trainer building blocks: transforms, sampling rule, loss, parameter groups, recall, checks."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.eval.retrieval import recall_at_k
from quilt_hf.synthetic.trainer_dataset import CORRUPT_BYTES, ihc_crops, write_tiny_dataset
from trainer.config import TrainConfig
from trainer.data import EvalData, ImageGroupDataset, decode_image, group_rows, load_split
from trainer.loss import clip_loss
from trainer.model import (
    build_model,
    check_compatible,
    lock_towers,
    no_decay_names,
    parameter_groups,
)
from trainer.transforms import (
    CLIP_MEAN,
    CLIP_STD,
    eval_transform,
    random_resized_crop_box,
    train_transform,
)

TINY = "trainer/configs/tiny-clip.yaml"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return write_tiny_dataset(
        tmp_path_factory.mktemp("units") / "quilt_1m", num_train=12, num_val=6
    )


def test_random_resized_crop_follows_open_clip_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        left, top, right, bottom = random_resized_crop_box(120, 100, rng)
        width, height = right - left, bottom - top
        assert left >= 0 and right <= 120 and top >= 0 and bottom <= 100
        assert 0.9 * 12000 * 0.97 <= width * height <= 12000
        assert 3 / 4 - 0.05 <= width / height <= 4 / 3 + 0.05
    # too wide for the ratio range: torchvision's fallback, the widest centred crop at ratio 4/3
    assert random_resized_crop_box(400, 100, np.random.default_rng(0)) == (133, 0, 266, 100)


def test_transforms_shape_normalisation_and_determinism():
    image = Image.fromarray(np.full((60, 80, 3), 255, dtype=np.uint8))
    first = train_transform(image, 32, np.random.default_rng([1, 2]))
    again = train_transform(image, 32, np.random.default_rng([1, 2]))
    assert first.shape == (3, 32, 32) and torch.equal(first, again)
    expected = (1.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(first[:, 5, 5], expected, atol=1e-4)
    real = Image.open(io.BytesIO(ihc_crops(1, 96, 0)[0]))
    assert eval_transform(real, 32).shape == (3, 32, 32)
    other = train_transform(real, 32, np.random.default_rng([1, 3]))
    assert not torch.equal(other, train_transform(real, 32, np.random.default_rng([1, 2])))


def test_decode_image_skips_with_reasons():
    with pytest.raises(SkipRecord) as err:
        decode_image({"bytes": CORRUPT_BYTES, "path": None})
    assert err.value.reason == "corrupt_image"
    with pytest.raises(SkipRecord) as err:
        decode_image({"bytes": None, "path": "/nonexistent.jpg"})
    assert err.value.reason == "missing_image"


def test_groups_and_sampling_rule(tiny_root):
    config = TrainConfig(dataset=str(tiny_root), text_column="roi_text", seed=3)
    ds = load_split(config, "train")
    groups = group_rows(ds, "image_sha256")
    shas = ds["image_sha256"]
    assert len(groups) == len(set(shas))  # one item per unique image
    for rows in groups:
        assert len({shas[int(r)] for r in rows}) == 1
    dataset = ImageGroupDataset(ds, config, image_size=32)
    multi = next(
        g
        for g, rows in enumerate(dataset.groups)
        if any(len(ds[int(r)]["roi_text"]) == 3 for r in rows)
    )
    seen = Counter(dataset[epoch * len(dataset) + multi]["text"] for epoch in range(40))
    # the 3-text roi_text row and the image's other row are all sampled over epochs, not duplicated
    assert {"glands with atypia", "brown membranous stain", "dense stroma"} <= set(seen)
    assert dataset[multi]["text"] == dataset[multi]["text"]  # same (epoch, image) -> same choice
    corrupt = next(
        g
        for g, rows in enumerate(dataset.groups)
        if ds[int(rows[0])]["image"]["bytes"] == CORRUPT_BYTES
    )
    assert dataset[corrupt] == {"skip": "corrupt_image"}


def test_eval_data_groups_positives_by_image(tiny_root):
    config = TrainConfig(dataset=str(tiny_root))
    data = EvalData(load_split(config, "val"), config)
    assert len(data.image_rows) == 6
    assert len(data.texts) == 6 + 2  # two images have a second row
    assert Counter(Counter(data.text_image).values()) == Counter({1: 4, 2: 2})


def test_recall_any_positive_in_top_k():
    # 2 images, 3 texts: texts 0, 1 belong to image 0; text 2 to image 1.
    # The trainer's evaluation calls the same recall_at_k as `quilt eval retrieval`: with texts
    # as the identity basis, image embeddings ARE the image x text similarity matrix.
    similarity = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.3]], dtype=np.float32)
    metrics = recall_at_k(similarity, np.eye(3, dtype=np.float32), np.array([0, 0, 1]), ks=(1, 2))
    # image 0 finds text 1; image 1's top is text 0 (wrong)
    assert metrics["image_to_text_R@1"] == 0.5
    assert metrics["image_to_text_R@2"] == 1.0
    # text 0 -> image 1 (wrong), text 1 -> image 0 (right), text 2 -> image 0 (wrong)
    assert metrics["text_to_image_R@1"] == pytest.approx(1 / 3)
    assert metrics["text_to_image_R@2"] == 1.0


def test_loss_matches_transformers_clip_loss():
    model = build_model(TrainConfig(model_config=TINY))
    ids = torch.tensor(
        [[49406, 320, 1125, 49407], [49406, 2368, 49407, 49407], [49406, 539, 49407, 49407]]
    )
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 0]])
    out = model(
        input_ids=ids, attention_mask=mask, pixel_values=torch.randn(3, 3, 32, 32), return_loss=True
    )
    ours = clip_loss(out.image_embeds, out.text_embeds, model.logit_scale)
    assert torch.allclose(ours, out.loss, atol=1e-5)


def test_no_weight_decay_groups_and_locked_towers():
    model = build_model(TrainConfig(model_config=TINY))
    names = no_decay_names(model)
    assert "logit_scale" in names
    assert any("embedding" in n for n in names) and any(n.endswith("bias") for n in names)
    assert any("layer_norm" in n or "layernorm" in n for n in names)
    decayed = {id(p) for p in parameter_groups(model, 0.2)[0]["params"]}
    assert id(model.text_model.encoder.layers[0].self_attn.q_proj.weight) in decayed
    lock_towers(model, lock_image=True, lock_text=False)
    assert not any(
        p.requires_grad for n, p in model.named_parameters() if n.startswith("vision_model.")
    )
    assert not model.visual_projection.weight.requires_grad
    assert model.text_projection.weight.requires_grad and model.logit_scale.requires_grad


def test_checkpoint_of_another_shape_is_refused(tmp_path, tiny_root):
    from safetensors.torch import save_file

    small = build_model(TrainConfig(model_config=TINY))
    save_file(
        {k: v.contiguous() for k, v in small.state_dict().items()},
        str(tmp_path / "model.safetensors"),
    )
    check_compatible(tmp_path, small)  # same shape: fine
    wider = tmp_path / "wide.yaml"
    wider.write_text(Path(TINY).read_text().replace("projection_dim: 32", "projection_dim: 48"))
    with pytest.raises(QuiltError, match="different shape"):
        check_compatible(tmp_path, build_model(TrainConfig(model_config=str(wider))))


def test_webdataset_shards_map_onto_quilt_columns(tmp_path, monkeypatch):
    from quilt_hf.synthetic.trainer_dataset import write_tiny_webdataset

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = write_tiny_webdataset(tmp_path / "quilt_1m", num_train=8, num_val=4)
    config = TrainConfig(dataset=str(root))
    ds = load_split(config, "train")
    assert {"image", "caption", "image_sha256", "roi_text"} <= set(ds.features)
    dataset = ImageGroupDataset(ds, config, image_size=32)
    assert len(dataset) == 8 + 1  # 8 images + the corrupt one; second rows share their image
    with pytest.raises(QuiltError, match="no webdataset shards for split 'test'"):
        load_split(config, "test")


def test_streaming_loader_batches_and_counts_skips(tiny_root):
    from trainer.data import build_train_loader
    from trainer.tokenizer import openai_clip_tokenizer

    config = TrainConfig(
        dataset=str(tiny_root), streaming=True, per_device_batch_size=64, num_workers=0
    )
    stream = load_split(config, "train")
    tokenizer = openai_clip_tokenizer(tiny_root.parent / "bpe")
    batches = build_train_loader(stream, config, 32, tokenizer, num_processes=1)
    stream_batches = batches.from_position(0, 0)
    batch, epoch, consumed = next(stream_batches)
    assert (epoch, consumed) == (0, 1)
    assert batch["skipped_corrupt_image"] == 1
    assert batch["pixel_values"].shape == (12 + 3, 3, 32, 32)  # all rows (streams are not grouped)
    assert batch["truncated_texts"] == 1
    # The stream fits one batch: the next one is epoch 1's first, reshuffled.
    _, epoch, consumed = next(stream_batches)
    assert (epoch, consumed) == (1, 1)


def _take(sampler, count):
    iterator = iter(sampler)
    return [next(iterator) for _ in range(count)]


def test_epoch_batch_sampler_runs_epoch_after_epoch():
    from trainer.data import EpochBatchSampler

    sampler = EpochBatchSampler(size=10, batch_size=3, seed=0)
    assert sampler.batches_per_epoch == 3  # the partial 4th batch is dropped
    batches = _take(sampler, 7)
    assert all(len(b) == 3 for b in batches)
    epoch0, epoch1 = sum(batches[:3], []), sum(batches[3:6], [])
    assert len(set(epoch0)) == 9 and all(0 <= k < 10 for k in epoch0)
    assert len(set(epoch1)) == 9 and all(10 <= k < 20 for k in epoch1)
    assert [k % 10 for k in epoch0] != [k % 10 for k in epoch1]  # reshuffled per epoch
    assert all(20 <= k < 30 for k in batches[6])
    resumed = EpochBatchSampler(size=10, batch_size=3, seed=0)
    resumed.start_at(1, 2)  # two batches of epoch 1 already trained on
    assert _take(resumed, 2) == batches[5:7]
    resumed.start_at(0, 3)  # the end of epoch 0 is the start of epoch 1
    assert _take(resumed, 1) == batches[3:4]


def test_epoch_batch_sampler_gives_each_process_its_slice_of_the_global_batch():
    from trainer.data import EpochBatchSampler

    single = _take(EpochBatchSampler(size=21, batch_size=8, seed=3), 5)
    ranks = [_take(EpochBatchSampler(21, 4, 3, num_processes=2, rank=r), 5) for r in (0, 1)]
    for step in range(5):
        assert ranks[0][step] + ranks[1][step] == single[step]
    small = EpochBatchSampler(size=5, batch_size=4, seed=0, num_processes=2, rank=1)
    assert small.batches_per_epoch == 1  # smaller than a global batch: all of it, every epoch
    assert [len(b) for b in _take(small, 2)] == [2, 2]


def test_epoch_batch_sampler_cuts_micro_batches_from_the_accumulated_global_batch():
    from trainer.data import EpochBatchSampler

    # 21 items, global batch 2 processes x 4 x 2 micro-batches = 16: one step per epoch (the
    # last 5 items dropped), counted as 2 micro-batches
    whole = _take(EpochBatchSampler(size=21, batch_size=16, seed=3), 3)
    parts = {
        r: _take(EpochBatchSampler(21, 4, 3, num_processes=2, rank=r, accumulation=2), 6)
        for r in (0, 1)
    }
    assert (
        EpochBatchSampler(21, 4, 3, num_processes=2, rank=0, accumulation=2).batches_per_epoch == 2
    )
    for step in range(3):
        micro = [parts[r][2 * step + m] for m in (0, 1) for r in (0, 1)]
        assert sorted(sum(micro, [])) == sorted(whole[step])
        assert all(len(b) == 4 for b in micro)


def test_accumulated_step_equals_one_big_batch():
    """2 micro-batches of 8 with the cached-feature step = one batch of 16: loss and gradients."""
    from accelerate import Accelerator

    from trainer.step import contrastive_backward

    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = build_model(TrainConfig(model_config=TINY))
    batch = {
        "input_ids": torch.randint(0, 49406, (16, 6)),
        "attention_mask": torch.ones((16, 6), dtype=torch.long),
        "pixel_values": torch.randn(16, 3, 32, 32),
    }
    halves = [{k: v[part] for k, v in batch.items()} for part in (slice(0, 8), slice(8, 16))]

    def gradients(micro_batches):
        model.zero_grad(set_to_none=True)
        loss = contrastive_backward(accelerator, model, micro_batches, model.logit_scale, False)
        return loss, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole_loss, whole = gradients([batch])
    accumulated_loss, accumulated = gradients(halves)
    assert accumulated_loss.item() == pytest.approx(whole_loss.item(), rel=1e-6)
    assert accumulated.keys() == whole.keys()
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=1e-4, atol=1e-6)
    assert whole["logit_scale"].abs().item() > 0  # the temperature's gradient counted once
    # plain per-micro-batch accumulation (each half its own negatives) is NOT the same loss
    model.zero_grad(set_to_none=True)
    per_half = (
        sum(
            contrastive_backward(accelerator, model, [half], model.logit_scale, False).item()
            for half in halves
        )
        / 2
    )
    assert per_half < whole_loss.item() - 0.1  # 7 negatives per row instead of 15


def test_gradient_checkpointing_flag():
    model = build_model(TrainConfig(model_config=TINY, gradient_checkpointing=True))
    flag = (
        "is_activation_checkpointing"
        if hasattr(model, "is_activation_checkpointing")
        else "is_gradient_checkpointing"
    )
    assert getattr(model, flag)
    assert not getattr(build_model(TrainConfig(model_config=TINY)), flag)


def test_reduced_jpeg_decode_keeps_enough_pixels_for_the_crop():
    import io as _io

    from PIL import Image as _Image

    from trainer.data import decode_image, decode_side
    from trainer.transforms import random_resized_crop_box

    buffer = _io.BytesIO()
    _Image.new("RGB", (1280, 720), (200, 120, 160)).save(buffer, "JPEG")
    image = decode_image({"bytes": buffer.getvalue(), "path": None}, min_side=decode_side(224))
    assert image.size == (640, 360)  # decoded at 1/2 scale, not full size
    rng = np.random.default_rng(0)
    for _ in range(200):  # every training crop of the reduced image is still >= 224 px
        left, top, right, bottom = random_resized_crop_box(*image.size, rng)
        assert min(right - left, bottom - top) >= 224
    small = _io.BytesIO()
    _Image.new("RGB", (300, 300)).save(small, "JPEG")
    assert decode_image(
        {"bytes": small.getvalue(), "path": None}, min_side=decode_side(224)
    ).size == (300, 300)


def test_resume_latest_skips_a_checkpoint_killed_while_saving(tmp_path):
    from trainer.checkpointing import (
        COMPLETE_MARKER,
        remove_partial_checkpoints,
        resolve_resume,
    )

    folder = tmp_path / "checkpoints"
    for index, complete in ((0, True), (1, True), (2, False)):
        (folder / f"checkpoint_{index}").mkdir(parents=True)
        (folder / f"checkpoint_{index}" / "model.safetensors").write_bytes(b"x")
        if complete:
            (folder / f"checkpoint_{index}" / COMPLETE_MARKER).write_text("step 2\n")
    latest = resolve_resume(tmp_path, "latest")
    assert latest == folder / "checkpoint_1"
    with pytest.raises(QuiltError, match="incomplete"):
        resolve_resume(tmp_path, str(folder / "checkpoint_2"))
    assert resolve_resume(tmp_path, str(folder / "checkpoint_0")) == folder / "checkpoint_0"
    assert remove_partial_checkpoints(tmp_path, latest) == [folder / "checkpoint_2"]
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint_0", "checkpoint_1"]
