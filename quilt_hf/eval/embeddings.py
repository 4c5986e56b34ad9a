"""Load any CLIP checkpoint (ours, OpenAI's, PLIP, QuiltNet) and embed images and texts.

Every evaluation works on L2-normalised embeddings, so cosine similarity is a dot product. Models
load through transformers ``CLIPModel`` + ``CLIPProcessor`` from a local folder or a Hub id (the
Hub honours ``HF_ENDPOINT``). A checkpoint without a text tower cannot do zero-shot or retrieval
and is refused with a clear error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from quilt_hf.errors import QuiltError

log = logging.getLogger(__name__)

TEXT_TOWER_TYPES = ("clip",)  # model_type values whose checkpoints carry both towers


@dataclass
class ClipEncoder:
    """A CLIP model and its processor, with batched, normalised encoders."""

    model: Any  # transformers.CLIPModel
    processor: Any  # transformers.CLIPProcessor
    name: str
    device: str = "cpu"

    def encode_images(
        self, images: Iterable[Image.Image], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        images = list(images)
        chunks = []
        for start in tqdm(
            range(0, len(images), batch_size), desc="images", disable=not progress, leave=False
        ):
            batch = [image.convert("RGB") for image in images[start : start + batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            with torch.inference_mode():
                features = _as_tensor(
                    self.model.get_image_features(
                        pixel_values=inputs["pixel_values"].to(self.device)
                    )
                )
            chunks.append(_normalise(features.float().cpu().numpy()))
        return _stack(chunks, self.embedding_dim)

    def encode_texts(
        self, texts: Sequence[str], batch_size: int = 256, progress: bool = False
    ) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        chunks = []
        for start in tqdm(
            range(0, len(texts), batch_size), desc="texts", disable=not progress, leave=False
        ):
            inputs = self.processor.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.model.config.text_config.max_position_embeddings,
                return_tensors="pt",
            )
            with torch.inference_mode():
                features = _as_tensor(
                    self.model.get_text_features(
                        input_ids=inputs["input_ids"].to(self.device),
                        attention_mask=inputs["attention_mask"].to(self.device),
                    )
                )
            chunks.append(_normalise(features.float().cpu().numpy()))
        return _stack(chunks, self.embedding_dim)

    @property
    def embedding_dim(self) -> int:
        return int(self.model.config.projection_dim)


def _as_tensor(output: Any) -> Any:
    """transformers 5 returns a ``BaseModelOutputWithPooling`` whose pooler output is projected."""
    return output if hasattr(output, "dim") else output.pooler_output


def _normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.clip(norms, 1e-12, None)


def _stack(chunks: list[np.ndarray], dim: int) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros((0, dim), dtype=np.float32)


def load_clip(model_name_or_path: str, device: str = "cpu") -> ClipEncoder:
    """Load a CLIP checkpoint that has both towers, or raise ``QuiltError`` saying why not."""
    from transformers import AutoConfig, CLIPModel, CLIPProcessor

    _check_has_text_tower(model_name_or_path)
    try:
        config = AutoConfig.from_pretrained(model_name_or_path)
    except (OSError, ValueError) as error:
        raise QuiltError(
            f"cannot load model config from {model_name_or_path!r}: {error}"
        ) from error
    if config.model_type not in TEXT_TOWER_TYPES:
        raise QuiltError(
            f"{model_name_or_path!r} is a {config.model_type!r} model without a text tower; zero-shot "
            "and retrieval need a full CLIP checkpoint (model_type 'clip') with both towers"
        )
    model = CLIPModel.from_pretrained(model_name_or_path).to(device).eval()
    processor = CLIPProcessor.from_pretrained(model_name_or_path)
    return ClipEncoder(model, processor, name=model_display_name(model_name_or_path), device=device)


def _check_has_text_tower(model_name_or_path: str) -> None:
    """Fail early, before transformers' own message, for local vision-only checkpoints."""
    config_path = Path(model_name_or_path) / "config.json"
    if not config_path.is_file():
        return
    config = json.loads(config_path.read_text(encoding="utf-8"))
    model_type = config.get("model_type")
    if model_type not in TEXT_TOWER_TYPES:
        raise QuiltError(
            f"{model_name_or_path!r} is a {model_type!r} model without a text tower; zero-shot and "
            "retrieval need a full CLIP checkpoint (model_type 'clip') with both towers"
        )


def model_display_name(model_name_or_path: str) -> str:
    """A short, file-name-safe model name: ``org/name`` -> ``org__name``; a folder -> its name."""
    path = Path(model_name_or_path)
    if path.exists():
        parts = path.resolve().parts
        # trainer output is ``output_dir/final``: name it after output_dir
        name = parts[-2] if parts[-1] in ("final", "checkpoint") and len(parts) > 1 else parts[-1]
    else:
        name = model_name_or_path
    return name.replace("/", "__").replace(" ", "_")
