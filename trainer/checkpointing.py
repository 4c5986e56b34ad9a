"""Checkpoint bookkeeping around ``accelerator.save_state`` / ``load_state``.

Accelerate saves model, optimizer, RNG states and every object registered with
``register_for_checkpointing`` into ``output_dir/checkpoints/checkpoint_N`` (keeping at most
``total_limit``). ``TrainProgress`` is such an object: it records the optimizer step and the data
position (epoch, batches consumed) so a resumed run skips exactly the batches already seen.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError

CHECKPOINT_PATTERN = re.compile(r"^checkpoint_(\d+)$")


@dataclass
class TrainProgress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # dataloader batches of `epoch` already consumed
    samples: int = 0  # samples this process trained on
    skipped: Counter = field(default_factory=Counter)
    truncated_texts: int = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "samples": self.samples,
            "skipped": dict(self.skipped),
            "truncated_texts": self.truncated_texts,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch, self.samples = int(state["batch_in_epoch"]), int(state["samples"])
        self.skipped = Counter(state.get("skipped", {}))
        self.truncated_texts = int(state.get("truncated_texts", 0))


def checkpoints_dir(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def checkpoint_index(path: Path) -> int:
    match = CHECKPOINT_PATTERN.match(path.name)
    if not match:
        raise QuiltError(f"{path} is not an accelerate checkpoint folder (checkpoint_N)")
    return int(match.group(1))


def list_checkpoints(output_dir: Path) -> list[Path]:
    folder = checkpoints_dir(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and CHECKPOINT_PATTERN.match(p.name)]
    return sorted(found, key=checkpoint_index)


def resolve_resume(output_dir: Path, resume_from: str | None) -> Path | None:
    """``latest`` -> newest checkpoint in output_dir (None if there is none yet); else a path."""
    if not resume_from:
        return None
    if resume_from == "latest":
        found = list_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume_from)
    if not path.is_dir():
        raise QuiltError(f"resume_from {resume_from}: no such checkpoint folder")
    checkpoint_index(path)
    return path
