"""The CLIP model and processor: pretrained (Hub id or path) or randomly initialised from a config.

Also the parts of the recipe that depend on parameter names: locked towers and the AdamW parameter
groups (no weight decay on biases, norms, embeddings and ``logit_scale``, as CLIP and open_clip do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from quilt_hf.errors import QuiltError
from trainer.config import TrainConfig, shipped_path
from trainer.tokenizer import openai_clip_tokenizer

VISION_PARTS = ("vision_model.", "visual_projection.")
TEXT_PARTS = ("text_model.", "text_projection.")
NO_DECAY_MARKERS = ("bias", "norm", "embedding", "logit_scale")


def read_clip_config(path: str):
    from transformers import CLIPConfig

    file = shipped_path(path)
    if not file.is_file():
        raise QuiltError(f"model_config {path} does not exist")
    loaded: Any = (
        yaml.safe_load(file.read_text())
        if file.suffix in (".yaml", ".yml")
        else json.loads(file.read_text())
    )
    if not isinstance(loaded, dict):
        raise QuiltError(f"model_config {path} must be a mapping (a CLIPConfig as YAML or JSON)")
    return CLIPConfig(**loaded)


def build_model(config: TrainConfig):
    from transformers import CLIPModel

    if config.model_config:
        model = CLIPModel(read_clip_config(config.model_config))
    else:
        try:
            model = CLIPModel.from_pretrained(config.model)
        except OSError as err:
            raise QuiltError(f"cannot load CLIP model {config.model!r}: {err}") from err
    if config.gradient_checkpointing:  # renamed "activation checkpointing" in transformers 5.2x
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()
    lock_towers(model, lock_image=config.lock_image, lock_text=config.lock_text)
    return model


def build_processor(config: TrainConfig, model, cache_dir: Path):
    """CLIPProcessor to save beside the model: the pretrained one, or OpenAI BPE + CLIP image
    processor sized to the model."""
    from transformers import AutoTokenizer, CLIPProcessor

    try:  # transformers 5: the PIL backend, which needs no torchvision
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:
        from transformers import CLIPImageProcessor

    image_size = model.config.vision_config.image_size
    tokenizer = None
    image_processor = None
    source = config.tokenizer or (None if config.model_config else config.model)
    if source:
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise QuiltError(f"cannot load tokenizer {source!r}: {err}") from err
    if not config.model_config:
        try:
            image_processor = CLIPImageProcessor.from_pretrained(config.model)
        except OSError:
            image_processor = None
    if tokenizer is None:
        tokenizer = openai_clip_tokenizer(cache_dir, config.max_text_length)
    if image_processor is None:
        image_processor = CLIPImageProcessor(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        )
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def lock_towers(model, *, lock_image: bool, lock_text: bool) -> None:
    """Freeze a whole tower (encoder + projection), as open_clip's --lock-image/--lock-text."""
    locked = (VISION_PARTS if lock_image else ()) + (TEXT_PARTS if lock_text else ())
    for name, param in model.named_parameters():
        if name.startswith(locked):
            param.requires_grad_(False)


def parameter_groups(model, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lowered = name.lower()
        if param.ndim < 2 or any(marker in lowered for marker in NO_DECAY_MARKERS):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def shape_signature(model) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def check_compatible(checkpoint_dir: Path, model) -> None:
    """Fail clearly when a checkpoint holds a model of another shape (before load_state does)."""
    from safetensors import safe_open

    weights = checkpoint_dir / "model.safetensors"
    if not weights.is_file():
        return
    expected = shape_signature(model)
    with safe_open(str(weights), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
            shape = tuple(handle.get_slice(key).get_shape())
            if key in expected and expected[key] != shape:
                raise QuiltError(
                    f"checkpoint {checkpoint_dir} was saved from a model of a different shape: "
                    f"{key} is {shape} there but {expected[key]} in this model "
                    "(use the same --model/--model_config as the run that wrote it)"
                )
        missing = set(expected) - set(handle.keys())
    if missing:
        raise QuiltError(
            f"checkpoint {checkpoint_dir} was saved from a different model: it lacks "
            f"{len(missing)} tensors, e.g. {sorted(missing)[:3]}"
        )


def no_decay_names(model) -> list[str]:
    """Names of trainable parameters in the no-decay group (for tests and logs)."""
    groups = parameter_groups(model, 1.0)
    ids = {id(p) for p in groups[1]["params"]}
    return [n for n, p in model.named_parameters() if id(p) in ids]
