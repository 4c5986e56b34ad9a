"""Checkpoint bookkeeping around ``accelerator.save_state`` / ``load_state``.

Accelerate saves model, optimizer, RNG states and every object registered with
``register_for_checkpointing`` into ``output_dir/checkpoints/checkpoint_N`` (keeping at most
``total_limit``). ``TrainProgress`` is such an object: it records the optimizer step and the data
position (epoch, batches consumed) so a resumed run skips exactly the batches already seen.

Accelerate writes a checkpoint's files one after the other: a run killed while saving leaves a
partial folder. ``save_checkpoint`` therefore writes a marker file last, once every process has
finished; ``--resume_from latest`` takes the newest checkpoint that has it, and the resumed run
removes the partial folders after it (their names would otherwise collide with the next save).
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError

CHECKPOINT_PATTERN = re.compile(r"^checkpoint_(\d+)$")
COMPLETE_MARKER = "checkpoint_complete"  # written last: the checkpoint is whole


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


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / COMPLETE_MARKER).is_file()


def save_checkpoint(accelerator, step: int) -> Path:
    """``accelerator.save_state`` plus the marker that says the checkpoint is whole."""
    folder = Path(accelerator.save_state())
    accelerator.wait_for_everyone()  # every process has written its part (RNG states, ...)
    if accelerator.is_main_process:
        (folder / COMPLETE_MARKER).write_text(f"step {step}\n")
    accelerator.wait_for_everyone()
    return folder


def resolve_resume(output_dir: Path, resume_from: str | None) -> Path | None:
    """``latest`` -> newest complete checkpoint in output_dir (None if there is none yet); else
    a path, which must be a complete checkpoint."""
    if not resume_from:
        return None
    if resume_from == "latest":
        found = [p for p in list_checkpoints(output_dir) if is_complete(p)]
        return found[-1] if found else None
    path = Path(resume_from)
    if not path.is_dir():
        raise QuiltError(f"resume_from {resume_from}: no such checkpoint folder")
    checkpoint_index(path)
    if not is_complete(path):
        raise QuiltError(
            f"resume_from {resume_from}: the checkpoint is incomplete (the run was stopped while "
            f"saving it: no {COMPLETE_MARKER} file); resume from an earlier one or 'latest'"
        )
    return path


def remove_partial_checkpoints(output_dir: Path, resumed: Path | None) -> list[Path]:
    """Delete the incomplete checkpoint folders after ``resumed`` (all of them when None): partial
    saves of an interrupted run. Call on the main process only."""
    first = checkpoint_index(resumed) + 1 if resumed is not None else 0
    removed = [
        p
        for p in list_checkpoints(output_dir)
        if checkpoint_index(p) >= first and not is_complete(p)
    ]
    for path in removed:
        shutil.rmtree(path)
    return removed
