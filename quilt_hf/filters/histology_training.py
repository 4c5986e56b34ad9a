"""Fine-tune an image classifier on frames labelled histology / not, as QUILT trained its own.

Input is an ImageFolder (``FOLDER/histology/*.jpg``, ``FOLDER/not_histology/*.jpg``) read with
``datasets.load_dataset("imagefolder")``; a stratified held-out split measures accuracy; training
runs on Accelerate (CPU, one GPU or ``accelerate launch`` across several); the result is saved
with ``save_pretrained`` (model + image processor) so ``HFImageClassifier(out_dir)`` loads it.
"""

from __future__ import annotations

import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "google/vit-base-patch16-224-in21k"


def tiny_model_and_processor(labels: list[str]):
    """A tiny random ViT (for tests and smoke runs: no download)."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    processor = ViTImageProcessor(size={"height": 32, "width": 32})
    return ViTForImageClassification(config), processor


def _pretrained_model_and_processor(model: str, labels: list[str]):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    try:
        processor = AutoImageProcessor.from_pretrained(model)
        network = AutoModelForImageClassification.from_pretrained(
            model,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            ignore_mismatched_sizes=True,  # a new head for our labels
        )
    except (OSError, ValueError) as error:
        raise QuiltError(f"cannot load base model {model!r}: {error}") from error
    return network, processor


def _decodable(example: dict[str, Any]) -> bool:
    from PIL import Image

    try:
        data = example["image"]["bytes"]
        source = io.BytesIO(data) if data else example["image"]["path"]
        with Image.open(source) as image:
            image.load()
        return True
    except Exception:  # PIL raises many types for corrupt files
        return False


def _load_folder(data_dir: Path):
    from datasets import ClassLabel, load_dataset
    from datasets import Image as ImageFeature

    if not data_dir.is_dir():
        raise QuiltError(f"--data {data_dir} is not a folder")
    classes = sorted(
        p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if len(classes) < 2:
        raise QuiltError(
            f"{data_dir} needs one sub-folder per label (histology/, not_histology/), found {classes}"
        )
    dataset = load_dataset("imagefolder", data_dir=str(data_dir), split="train")
    if not isinstance(dataset.features.get("label"), ClassLabel):
        raise QuiltError(f"{data_dir}: imagefolder found no labels (expected FOLDER/LABEL/*.jpg)")
    dataset = dataset.cast_column("image", ImageFeature(decode=False))
    kept = dataset.filter(_decodable)
    skipped = len(dataset) - len(kept)
    if skipped:
        logger.warning("skipped %d undecodable image(s) (reason: corrupt_image)", skipped)
    return kept.cast_column("image", ImageFeature()), skipped


def train_histology_classifier(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    model: str = DEFAULT_BASE_MODEL,
    model_config: str | None = None,
    epochs: int = 3,
    batch_size: int = 16,
    lr: float = 5e-5,
    eval_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    """Train, evaluate on the held-out split, save into ``out_dir``; returns the metrics."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    if model_config not in (None, "tiny"):
        raise QuiltError(f"--model_config must be 'tiny' (or omitted), got {model_config!r}")
    if epochs < 1 or batch_size < 1 or not 0 < eval_fraction < 1:
        raise QuiltError("epochs and batch_size must be >= 1 and eval_fraction in (0, 1)")
    accelerator = Accelerator()
    set_seed(seed)
    dataset, skipped = _load_folder(Path(data_dir))
    labels: list[str] = list(dataset.features["label"].names)
    if len(dataset) < 4:
        raise QuiltError(f"{data_dir} holds {len(dataset)} usable images: too few to train")
    try:
        splits = dataset.train_test_split(
            test_size=eval_fraction, seed=seed, stratify_by_column="label"
        )
    except ValueError:  # too few images per class to stratify
        splits = dataset.train_test_split(test_size=eval_fraction, seed=seed)
    if model_config == "tiny":
        network, processor = tiny_model_and_processor(labels)
    else:
        network, processor = _pretrained_model_and_processor(model, labels)

    def collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = processor(
            images=[e["image"].convert("RGB") for e in examples], return_tensors="pt"
        )
        inputs["labels"] = torch.tensor([e["label"] for e in examples])
        return inputs

    generator = torch.Generator().manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(
        splits["train"],
        batch_size=batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=generator,
    )
    eval_loader = torch.utils.data.DataLoader(
        splits["test"], batch_size=batch_size, collate_fn=collate
    )
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train_loader) / accelerator.num_processes)
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, steps // 10), steps)
    network, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        network, optimizer, train_loader, eval_loader, scheduler
    )

    history = []
    for epoch in range(epochs):
        network.train()
        total_loss, n_batches = 0.0, 0
        bar = tqdm(
            train_loader,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=not accelerator.is_local_main_process,
        )
        for batch in bar:
            loss = network(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total_loss += float(loss.detach())
            n_batches += 1
            bar.set_postfix(loss=f"{total_loss / n_batches:.4f}")
        network.eval()
        correct, seen = 0, 0
        for batch in eval_loader:
            with torch.no_grad():
                predictions = network(**batch).logits.argmax(dim=-1)
            predictions, references = accelerator.gather_for_metrics((predictions, batch["labels"]))
            correct += int((predictions == references).sum())
            seen += int(references.numel())
        accuracy = correct / seen if seen else float("nan")
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": total_loss / max(1, n_batches),
                "eval_accuracy": accuracy,
            }
        )
        accelerator.print(
            f"epoch {epoch + 1}: train loss {history[-1]['train_loss']:.4f}, held-out accuracy {accuracy:.4f} ({correct}/{seen})"
        )

    metrics = {
        "labels": labels,
        "train_size": len(splits["train"]),
        "eval_size": len(splits["test"]),
        "skipped_corrupt_images": skipped,
        "eval_accuracy": history[-1]["eval_accuracy"],
        "history": history,
        "base_model": "tiny-random-vit" if model_config == "tiny" else model,
    }
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        accelerator.unwrap_model(network).save_pretrained(out, save_function=accelerator.save)
        processor.save_pretrained(out)
        (out / "histo_train_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics
