"""CLIP's symmetric contrastive loss over the GLOBAL batch.

With several processes each one holds a slice of the global batch. Like open_clip's
``gather_with_grad`` + ``local_loss``, every process gathers the embeddings of all processes with
``torch.distributed.nn.all_gather`` (which carries gradients back to their owners) and scores its
own images/texts against all of them; the mean of the per-process losses is then exactly the
single-process loss on the whole global batch, and DDP's gradient averaging recovers its gradient.
Local batches may differ in size (skipped images), so sizes are exchanged and tensors padded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812


def gather_with_grad(features: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All processes' rows concatenated in rank order, and where this process's rows start."""
    import torch.distributed as dist
    import torch.distributed.nn as dist_nn

    world, rank = dist.get_world_size(), dist.get_rank()
    size = torch.tensor([features.shape[0]], device=features.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    padded = features
    if features.shape[0] < longest:
        pad = features.new_zeros((longest - features.shape[0], *features.shape[1:]))
        padded = torch.cat([features, pad])
    gathered = dist_nn.all_gather(padded)
    parts = [part[:count] for part, count in zip(gathered, counts, strict=True)]
    return torch.cat(parts), sum(counts[:rank])


def clip_loss(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    distributed: bool = False,
) -> torch.Tensor:
    """Mean of image->text and text->image cross-entropy of this process's rows against the
    global batch (embeddings need not be normalised). The mean of the processes' values is the
    single-process loss on the global batch."""
    image_embeds = F.normalize(image_embeds, dim=-1)
    text_embeds = F.normalize(text_embeds, dim=-1)
    if distributed:
        all_images, offset = gather_with_grad(image_embeds)
        all_texts, _ = gather_with_grad(text_embeds)
    else:
        all_images, all_texts, offset = image_embeds, text_embeds, 0
    scale = logit_scale.exp()
    logits_per_image = scale * image_embeds @ all_texts.T
    logits_per_text = scale * text_embeds @ all_images.T
    labels = torch.arange(image_embeds.shape[0], device=image_embeds.device) + offset
    loss = (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
    ) / 2
    if distributed:
        # Weight by this process's share of rows, so the processes' mean (and DDP's averaged
        # gradient) is the global-batch mean even when local batches differ (skipped images).
        loss = loss * (image_embeds.shape[0] * _world_size() / all_images.shape[0])
    return loss


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size()
