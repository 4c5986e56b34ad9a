"""open_clip-style image transforms on PIL + numpy.

Why not torchvision: the torchvision wheels on the index do not import beside torch 2.13.0 (the
torch this project pins), and these four operations are small. They follow open_clip's defaults:
training uses RandomResizedCrop(scale=(0.9, 1.0), ratio=(3/4, 4/3), bicubic); evaluation resizes the
short side to ``size`` (bicubic) and centre-crops; both normalise with the CLIP mean/std. The crop
randomness comes from a ``numpy.random.Generator`` the caller passes in, so a crop is a pure function
of (seed, epoch, item) - which is what makes a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TRAIN_SCALE = (0.9, 1.0)  # open_clip's default for CLIP fine-tuning
RATIO = (3 / 4, 4 / 3)


def random_resized_crop_box(
    width: int, height: int, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """A (left, top, right, bottom) box with random area in TRAIN_SCALE and aspect in RATIO."""
    area = width * height
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target_area = area * rng.uniform(*TRAIN_SCALE)
        aspect = math.exp(rng.uniform(*log_ratio))
        crop_w = round(math.sqrt(target_area * aspect))
        crop_h = round(math.sqrt(target_area / aspect))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            return left, top, left + crop_w, top + crop_h
    # Fallback: the largest centred crop whose aspect lies within RATIO.
    in_ratio = width / height
    if in_ratio < RATIO[0]:
        crop_w, crop_h = width, round(width / RATIO[0])
    elif in_ratio > RATIO[1]:
        crop_w, crop_h = round(height * RATIO[1]), height
    else:
        crop_w, crop_h = width, height
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def center_crop_box(width: int, height: int, size: int) -> tuple[float, float, float, float]:
    """The box that 'resize short side to size, then centre-crop size x size' keeps."""
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return left, top, left + side, top + side


def to_normalized_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = (array - np.asarray(CLIP_MEAN, dtype=np.float32)) / np.asarray(
        CLIP_STD, dtype=np.float32
    )
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def train_transform(image: Image.Image, size: int, rng: np.random.Generator) -> torch.Tensor:
    image = image.convert("RGB")
    box = random_resized_crop_box(image.width, image.height, rng)
    # PIL's resize(box=...) crops and resamples in one pass (no intermediate copy).
    return to_normalized_tensor(image.resize((size, size), Image.Resampling.BICUBIC, box=box))


def eval_transform(image: Image.Image, size: int) -> torch.Tensor:
    image = image.convert("RGB")
    box = center_crop_box(image.width, image.height, size)
    return to_normalized_tensor(image.resize((size, size), Image.Resampling.BICUBIC, box=box))
