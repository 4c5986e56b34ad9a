"""Periodic evaluation during training: validation loss and image<->text Recall@1/5/10.

Positives are grouped by image: an image's positives are all texts of all its rows, so
image->text Recall@K counts an image as found when ANY of its texts ranks in the top K
(CLIP_benchmark's rule), and text->image Recall@K when a text's image ranks in the top K. Recall is
``quilt_hf.eval.retrieval.recall_at_k``, the same function and metric names
(``image_to_text_R@K``, ``text_to_image_R@K``) as ``quilt eval retrieval`` and the model card: the
trainer may import the evaluation metrics (a layer it feeds), never the curation code. The
validation loss pairs each unique image with its first text and averages the contrastive loss over
chunks of the global batch size.

With several processes each one embeds its share of the images; the embeddings are gathered as
tensors (padded to the longest share, since skipped images make shares differ) and every process
computes the same metrics.

The full evaluation suite (zero-shot, linear probe, ...) lives elsewhere; it plugs in through
``EvalHook``s: callables ``hook(model, processor, step) -> dict[str, float]`` passed to ``train``
or named in the config as ``"package.module:function"``. The trainer never imports that suite.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from quilt_hf.errors import QuiltError
from quilt_hf.eval.retrieval import recall_at_k
from trainer.data import EvalData, EvalImages, TextEncoder, collate_eval_images
from trainer.loss import clip_loss

EvalHook = Callable[[Any, Any, int], dict[str, float]]
RECALL_AT = (1, 5, 10)  # the K of training-time Recall@K


def load_hook(spec: str) -> EvalHook:
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise QuiltError(f"eval hook {spec!r} must look like 'package.module:function'")
    try:
        hook = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise QuiltError(f"cannot import eval hook {spec!r}: {err}") from err
    if not callable(hook):
        raise QuiltError(f"eval hook {spec!r} is not callable")
    return hook


@torch.no_grad()
def evaluate(
    accelerator,
    model,
    data: EvalData,
    encoder: TextEncoder,
    image_size: int,
    batch_size: int,
    num_workers: int,
) -> dict[str, float]:
    """Validation loss and retrieval recall; computed by all processes, returned on all."""
    unwrapped = accelerator.unwrap_model(model)
    was_training = unwrapped.training
    unwrapped.eval()
    loader = torch.utils.data.DataLoader(
        EvalImages(data, image_size),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_eval_images,
    )
    loader = accelerator.prepare_data_loader(loader)
    image_embeds, image_index = [], []
    for batch in loader:
        pixels = batch["pixel_values"]
        embeds = (
            _as_tensor(unwrapped.get_image_features(pixel_values=pixels))
            if len(pixels)
            else pixels.new_zeros((0, unwrapped.config.projection_dim))
        )
        gathered, index = _gather_rows(accelerator, embeds.float(), batch["index"])
        image_embeds.append(gathered)
        image_index.append(index)
    images = torch.cat(image_embeds)
    index = torch.cat(image_index)
    # Texts are few and cheap: every process embeds them all (no gather needed).
    text_chunks = []
    device = accelerator.device
    for start in range(0, len(data.texts), batch_size):
        ids, mask, _ = encoder(data.texts[start : start + batch_size])
        text_chunks.append(
            _as_tensor(
                unwrapped.get_text_features(
                    input_ids=ids.to(device), attention_mask=mask.to(device)
                )
            )
        )
    texts = torch.cat(text_chunks).float().cpu()
    unwrapped.train(was_training)
    return _metrics(
        images.cpu(),
        index.cpu(),
        texts,
        data,
        unwrapped.logit_scale.detach().cpu(),
        batch_size * accelerator.num_processes,
    )


def _gather_rows(
    accelerator, embeds: torch.Tensor, index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """All processes' rows of one eval batch, as tensors on the CPU.

    Shares differ in length (skipped images), so both are padded to the longest share (index -1
    marks padding, dropped here); Accelerate's repeated samples at the end of the split keep
    their real index and are dropped later, keeping each image once."""
    if accelerator.num_processes == 1:
        return embeds.cpu(), index.cpu()
    index = index.to(embeds.device)
    embeds = accelerator.pad_across_processes(embeds, dim=0, pad_index=0)
    index = accelerator.pad_across_processes(index, dim=0, pad_index=-1)
    embeds, index = accelerator.gather(embeds).cpu(), accelerator.gather(index).cpu()
    real = index >= 0
    return embeds[real], index[real]


def _as_tensor(output) -> torch.Tensor:
    """transformers 5 returns a ModelOutput from get_*_features; older versions a tensor."""
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


def _metrics(
    images: torch.Tensor,
    index: torch.Tensor,
    texts: torch.Tensor,
    data: EvalData,
    logit_scale: torch.Tensor,
    chunk: int,
) -> dict[str, float]:
    order = index.argsort(stable=True)
    images, index = images[order], index[order]
    # Accelerate pads the last eval batch of a process with repeated samples: keep each image once.
    first = torch.ones_like(index, dtype=torch.bool)
    first[1:] = index[1:] != index[:-1]
    images, index = images[first], index[first]
    if len(index) == 0:
        raise QuiltError("no eval image could be decoded")
    # Keep only texts whose image decoded; renumber images 0..n-1.
    position = torch.full((len(data.image_rows),), -1, dtype=torch.long)
    position[index] = torch.arange(len(index))
    text_image = position[torch.tensor(data.text_image)]
    keep = text_image >= 0
    texts, text_image = texts[keep], text_image[keep]
    images_n, texts_n = F.normalize(images, dim=-1), F.normalize(texts, dim=-1)
    metrics = recall_at_k(images_n.numpy(), texts_n.numpy(), text_image.numpy(), RECALL_AT)
    first_text = torch.full((len(index),), -1, dtype=torch.long)
    for j in range(len(text_image) - 1, -1, -1):
        first_text[text_image[j]] = j
    has_text = first_text >= 0
    paired_images, paired_texts = images[has_text], texts[first_text[has_text]]
    losses, weights = [], []
    for start in range(0, len(paired_images), chunk):
        part = slice(start, start + chunk)
        losses.append(clip_loss(paired_images[part], paired_texts[part], logit_scale).item())
        weights.append(len(paired_images[part]))
    metrics["loss"] = sum(value * w for value, w in zip(losses, weights, strict=True)) / sum(
        weights
    )
    metrics["num_images"] = float(len(index))
    metrics["num_texts"] = float(len(text_image))
    return metrics
