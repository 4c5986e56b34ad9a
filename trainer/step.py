"""One optimizer step's forward and backward passes over the whole contrastive batch.

Under gradient accumulation the contrastive batch is still the whole accumulated batch, as
open_clip's ``--accum-freq`` does it: the features of every micro-batch are first computed without
gradients and cached; then each micro-batch is run again with gradients and the loss is computed
against the cached features of all the others (its own rows live). The sum of these backward
passes is exactly the gradient of the loss over the whole accumulated batch, because every row's
features carry gradient in exactly one of them. Unlike open_clip, the temperature
(``logit_scale``) takes its gradient from one pass only (the last), or it would be counted once per
micro-batch. The price is one extra forward pass per micro-batch (no gradients, no activations
kept), the cached features of the whole batch (a few MB), and, as in open_clip, the inputs of all
micro-batches held until the step (128 images of 224 px are 77 MB in float32).

With several processes every loss is also computed against the other processes' features
(``clip_loss(..., distributed=True)``); DDP synchronises the gradients in the last pass only.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from trainer.loss import clip_loss


def _features(model, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    outputs = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        pixel_values=batch["pixel_values"],
    )
    return outputs.image_embeds.float(), outputs.text_embeds.float()


def contrastive_backward(
    accelerator,
    model,
    micro_batches: list[dict[str, Any]],
    logit_scale: torch.Tensor,
    distributed: bool,
) -> torch.Tensor:
    """Backward of the contrastive loss over all ``micro_batches`` together; returns the loss."""
    if len(micro_batches) == 1:
        images, texts = _features(model, micro_batches[0])
        loss = clip_loss(images, texts, logit_scale.float(), distributed=distributed)
        accelerator.backward(loss)
        return loss.detach()
    with torch.no_grad():
        cached = [_features(model, batch) for batch in micro_batches]
    last = len(micro_batches) - 1
    for j, batch in enumerate(micro_batches):
        # DDP: gradients are all-reduced in the last pass only (forward and backward under no_sync)
        with nullcontext() if j == last else accelerator.no_sync(model):
            images, texts = _features(model, batch)
            all_images = torch.cat(
                [c[0] for c in cached[:j]] + [images] + [c[0] for c in cached[j + 1 :]]
            )
            all_texts = torch.cat(
                [c[1] for c in cached[:j]] + [texts] + [c[1] for c in cached[j + 1 :]]
            )
            scale = logit_scale if j == last else logit_scale.detach()
            loss = clip_loss(all_images, all_texts, scale.float(), distributed=distributed)
            accelerator.backward(loss)
    return loss.detach()
