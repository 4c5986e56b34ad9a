"""The training loop: Accelerate + transformers ``CLIPModel``, the QuiltNet recipe.

The run ends with ``OUTPUT_DIR/final``: weights, processor, ``training_run.json`` and the model
card ``README.md`` (``quilt_hf.model_card``, the same code ``quilt card model`` and ``quilt eval``
use). The trainer imports from ``quilt_hf`` only what comes after it in the data flow (the
evaluation metrics, the model card) and the errors, never the curation code.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from quilt_hf.errors import QuiltError
from quilt_hf.model_card import render_model_card, write_training_run
from trainer.checkpointing import (
    TrainProgress,
    checkpoint_index,
    remove_partial_checkpoints,
    resolve_resume,
    save_checkpoint,
)
from trainer.config import TrainConfig
from trainer.data import (
    SKIP_REASONS,
    EvalData,
    TextEncoder,
    build_train_loader,
    cpu_model_threads,
    default_num_workers,
    load_split,
)
from trainer.evaluation import EvalHook, evaluate, load_hook
from trainer.model import build_model, build_processor, check_compatible, parameter_groups
from trainer.step import contrastive_backward


class MetricsLog:
    """``metrics.jsonl`` (main process) plus the Accelerate trackers."""

    def __init__(self, accelerator, path: Path) -> None:
        self.accelerator, self.path = accelerator, path

    def write(self, record: dict[str, Any], step: int) -> None:
        self.accelerator.log(
            {k: v for k, v in record.items() if isinstance(v, int | float)}, step=step
        )
        if self.accelerator.is_main_process:
            with self.path.open("a") as handle:
                handle.write(json.dumps({"step": step, **record}) + "\n")


def _tracker_config(config: TrainConfig) -> dict[str, Any]:
    """TensorBoard hparams accept only scalars and strings."""
    return {
        k: v if isinstance(v, int | float | str | bool) else str(v)
        for k, v in config.to_dict().items()
    }


def _make_accelerator(config: TrainConfig, output_dir: Path):
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    project = ProjectConfiguration(
        project_dir=str(output_dir),
        logging_dir=str(output_dir / "logs"),
        automatic_checkpoint_naming=True,
        total_limit=config.checkpoints_total_limit,
    )
    log_with = None if config.report_to == "none" else config.report_to
    # Under torchrun without a GPU, Accelerate only starts the gloo process group when told to
    # run on CPU; a single process keeps Accelerate's own device choice.
    cpu_cluster = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    # Gradient accumulation is done by the loop (trainer/step.py: the contrastive batch is the
    # whole accumulated batch), not by Accelerate, which would split the loss per micro-batch.
    return Accelerator(
        cpu=cpu_cluster,
        mixed_precision=config.mixed_precision,
        log_with=log_with,
        project_config=project,
    )


def share_batches_by_name() -> None:
    """Workers hand batches over as named shared memory (torch's ``file_system`` strategy).

    With the default ``file_descriptor`` strategy every tensor of a batch costs a round trip over
    a Unix socket to pass its descriptor: taking a ready batch took 2-4 ms, 5% of a tiny-model
    step on 2 cores; by name it takes 0.6-0.9 ms. torch's shared-memory manager removes the
    segments when the processes exit."""
    import torch.multiprocessing as mp

    if "file_system" in mp.get_all_sharing_strategies():
        mp.set_sharing_strategy("file_system")


def train(config: TrainConfig, eval_hooks: Sequence[EvalHook] = ()) -> dict[str, Any]:
    """Run training as configured; returns the final summary (also written to summary.json)."""
    from accelerate.utils import send_to_device, set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    output_dir = Path(config.output_dir)
    accelerator = _make_accelerator(config, output_dir)
    set_seed(config.seed)
    hooks = list(eval_hooks) + [load_hook(spec) for spec in config.eval_hooks]
    resume_dir = resolve_resume(output_dir, config.resume_from)  # fail fast, before loading
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        config.save(output_dir / "config.yaml")

    with accelerator.main_process_first():
        model = build_model(config)
        processor = build_processor(config, model, output_dir / "tokenizer_cache")
        train_ds = load_split(config, config.train_split)
        eval_data = (
            EvalData(load_split(config, config.eval_split), config)
            if config.eval_split and config.eval_every > 0
            else None
        )
    image_size = model.config.vision_config.image_size
    encoder = TextEncoder(processor.tokenizer, config.max_text_length)
    batches = build_train_loader(
        train_ds,
        config,
        image_size,
        processor.tokenizer,
        accelerator.num_processes,
        accelerator.process_index,
    )

    if batches.loader.num_workers > 0:
        share_batches_by_name()
    if accelerator.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(
            cpu_model_threads(accelerator.num_processes, batches.loader.num_workers)
        )
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.weight_decay),
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
    )
    if config.streaming:
        if config.max_steps <= 0:
            raise QuiltError("streaming datasets have no known length: set --max_steps")
        total_steps = config.max_steps
    else:
        # batches_per_epoch counts micro-batches, whole accumulated batches only
        steps_per_epoch = max(1, batches.batches_per_epoch // config.gradient_accumulation_steps)
        total_steps = config.max_steps or config.num_epochs * steps_per_epoch
    # The scheduler is stepped by hand once per optimizer update (not prepared: Accelerate would
    # step it once per process).
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, total_steps)
    # The loader is not prepared: build_train_loader already gives each process its own slice of
    # every global batch (Accelerate's batch dispatching would require equal batch sizes, which
    # skipped images break), and the loop moves batches to the device.
    model, optimizer = accelerator.prepare(model, optimizer)
    progress = TrainProgress()
    accelerator.register_for_checkpointing(scheduler, progress)
    unwrapped = accelerator.unwrap_model(model)

    if resume_dir is not None:
        check_compatible(resume_dir, unwrapped)
        try:
            accelerator.load_state(str(resume_dir))
        except RuntimeError as err:
            raise QuiltError(f"cannot resume from {resume_dir}: {err}") from err
        accelerator.project_configuration.iteration = checkpoint_index(resume_dir) + 1
        accelerator.print(f"resumed from {resume_dir} at step {progress.step}")
    elif config.resume_from:
        accelerator.print(f"resume_from={config.resume_from}: no checkpoint yet, starting fresh")
    if config.resume_from and accelerator.is_main_process:
        for partial in remove_partial_checkpoints(output_dir, resume_dir):
            accelerator.print(f"removed {partial}: incomplete (the run was stopped while saving)")
    accelerator.wait_for_everyone()

    if config.report_to != "none":
        accelerator.init_trackers("quilt_clip", config=_tracker_config(config))
    metrics = MetricsLog(accelerator, output_dir / "metrics.jsonl")
    eval_workers = (
        config.num_workers
        if config.num_workers is not None
        else default_num_workers(accelerator.num_processes)
    )

    def run_eval(step: int) -> dict[str, float]:
        if eval_data is None:
            return {}
        result = evaluate(
            accelerator,
            model,
            eval_data,
            encoder,
            image_size,
            config.per_device_batch_size,
            eval_workers,
        )
        if accelerator.is_main_process and hooks:
            unwrapped.eval()
            with torch.no_grad():
                for hook in hooks:
                    result.update(hook(unwrapped, processor, step))
            unwrapped.train()
        record = {f"eval/{k}": v for k, v in result.items()}
        metrics.write(record, step)
        return record

    accelerator.print(
        f"training {batches.num_items or 'streamed'} items for "
        f"{total_steps} steps on {accelerator.num_processes} process(es), "
        f"global batch {config.per_device_batch_size * accelerator.num_processes * config.gradient_accumulation_steps}"
    )
    bar = tqdm(
        total=total_steps,
        initial=progress.step,
        disable=not accelerator.is_local_main_process,
        desc="train",
        unit="step",
    )
    distributed = accelerator.num_processes > 1
    # Time is counted per optimizer step (data wait + compute), excluding eval and checkpoints.
    current = {"samples": 0, "wait": 0.0, "start": time.perf_counter()}
    window = {"samples": 0, "wait": 0.0, "elapsed": 0.0, "loss": 0.0, "batches": 0}
    timing = {"samples": 0, "wait": 0.0, "elapsed": 0.0}  # excludes the first (warm-up) step
    last_eval: dict[str, float] = {}
    last_eval_step = 0
    last_train_loss: float | None = None
    model.train()
    # One iterator for the whole run (see TrainBatches). A whole epoch without one usable pair is
    # an error, not an endless loop.
    stream = batches.from_position(progress.epoch, progress.batch_in_epoch)
    micro_batches: list[dict[str, Any]] = []  # of the optimizer step being accumulated
    checked_epoch, epoch_had_pair = progress.epoch, False
    whole_epoch = progress.batch_in_epoch == 0  # a resumed epoch was partly seen before
    waited_from = time.perf_counter()
    for batch, epoch, batch_in_epoch in stream:
        batch = send_to_device(batch, accelerator.device)
        current["wait"] += time.perf_counter() - waited_from
        progress.epoch, progress.batch_in_epoch = epoch, batch_in_epoch
        batch_epoch = epoch if batch_in_epoch > 0 else epoch - 1  # the position is after it
        if batch_epoch != checked_epoch:
            if whole_epoch and not epoch_had_pair:
                raise QuiltError(
                    f"a whole epoch of split {config.train_split!r} gave no usable image-text "
                    f"pair (skipped so far: {dict(progress.skipped)})"
                )
            checked_epoch, epoch_had_pair, whole_epoch = batch_epoch, False, True
        for reason in SKIP_REASONS:
            progress.skipped[reason] += int(batch[f"skipped_{reason}"])
        progress.truncated_texts += int(batch["truncated_texts"])
        kept = len(batch["pixel_values"])
        epoch_had_pair = epoch_had_pair or kept > 0 or distributed
        if kept == 0 and not distributed:
            waited_from = time.perf_counter()
            continue
        micro_batches.append(batch)
        progress.samples += kept
        current["samples"] += kept
        if len(micro_batches) < config.gradient_accumulation_steps:
            waited_from = time.perf_counter()
            continue
        loss = contrastive_backward(
            accelerator, model, micro_batches, unwrapped.logit_scale, distributed
        )
        micro_batches = []
        if config.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        window["loss"] += loss.item()
        window["batches"] += 1
        scheduler.step()
        with torch.no_grad():  # CLIP: the temperature may not exceed 100
            unwrapped.logit_scale.clamp_(0, math.log(config.max_logit_scale))
        progress.step += 1
        bar.update(1)
        step = progress.step
        step_time = time.perf_counter() - current["start"]
        for totals in (window, timing) if step > 1 else (window,):  # step 1 = warm-up
            totals["samples"] += current["samples"]
            totals["wait"] += current["wait"]
            totals["elapsed"] += step_time
        if step % config.log_every == 0 or step == total_steps or step == 1:
            record = _log_record(accelerator, window, progress, scheduler, unwrapped)
            bar.set_postfix(loss=f"{record['loss']:.3f}", sps=f"{record['samples_per_s']:.0f}")
            metrics.write(record, step)
            last_train_loss = record["loss"]
            window.update(samples=0, wait=0.0, elapsed=0.0, loss=0.0, batches=0)
        if config.eval_every and step % config.eval_every == 0 and step < total_steps:
            last_eval, last_eval_step = run_eval(step), step
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            save_checkpoint(accelerator, step)
        if step >= total_steps:
            break
        current.update(samples=0, wait=0.0, start=time.perf_counter())
        waited_from = time.perf_counter()
    stream.close()  # stops the DataLoader workers before the final evaluation and save
    bar.close()

    summary = _summary(accelerator, progress, timing, total_steps)
    last_eval = run_eval(progress.step) or last_eval
    last_eval_step = progress.step if last_eval else last_eval_step
    _save_final(accelerator, unwrapped, processor, output_dir / "final")
    if accelerator.is_main_process:
        run = _training_run(config, train_ds, summary, accelerator.num_processes)
        run["final_train_loss"] = last_train_loss
        if last_eval:
            run["training_eval"] = {
                "step": last_eval_step,
                **{k.removeprefix("eval/"): v for k, v in last_eval.items()},
            }
        write_training_card(output_dir / "final", run)
    summary.update(last_eval)
    if accelerator.is_main_process:
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    accelerator.print(
        f"done: {progress.step} steps; skipped images {summary['skipped']}; "
        f"{summary['truncated_texts']} texts truncated to {config.max_text_length} tokens"
    )
    accelerator.end_training()
    return summary


def _reduce_sum(accelerator, value: float) -> float:
    tensor = torch.tensor([float(value)], device=accelerator.device)
    return float(accelerator.reduce(tensor, reduction="sum").item())


def _log_record(accelerator, window, progress: TrainProgress, scheduler, unwrapped):
    elapsed = max(window["elapsed"], 1e-9)
    batches = max(window["batches"], 1)
    record: dict[str, Any] = {
        "epoch": progress.epoch,
        "loss": _reduce_sum(accelerator, window["loss"] / batches) / accelerator.num_processes,
        "lr": scheduler.get_last_lr()[0],
        "logit_scale": unwrapped.logit_scale.exp().item(),
        "samples_per_s": _reduce_sum(accelerator, window["samples"]) / elapsed,
        "data_wait_frac": window["wait"] / elapsed,
        "truncated_texts": int(_reduce_sum(accelerator, progress.truncated_texts)),
    }
    for reason in SKIP_REASONS:
        record[f"skipped_{reason}"] = int(_reduce_sum(accelerator, progress.skipped[reason]))
    return record


def _summary(accelerator, progress: TrainProgress, timing, total_steps: int) -> dict[str, Any]:
    elapsed = max(timing["elapsed"], 1e-9)
    return {
        "steps": progress.step,
        "total_steps": total_steps,
        "samples": int(_reduce_sum(accelerator, progress.samples)),
        "samples_per_s": _reduce_sum(accelerator, timing["samples"]) / elapsed
        if timing["elapsed"]
        else None,
        "data_wait_frac": timing["wait"] / elapsed if timing["elapsed"] else None,
        "skipped": {r: int(_reduce_sum(accelerator, progress.skipped[r])) for r in SKIP_REASONS},
        "truncated_texts": int(_reduce_sum(accelerator, progress.truncated_texts)),
    }


def _training_run(config: TrainConfig, train_ds, summary: dict[str, Any], processes: int):
    """What the model card says about this run (``final/training_run.json``)."""
    local = Path(config.dataset).exists()
    dataset: dict[str, Any] = {
        "name": Path(config.dataset).name if local else config.dataset,
        "split": config.train_split,
        "text_column": config.text_column,
        "rows": None if config.streaming else len(train_ds),
        # datasets' fingerprint of the loaded split (None for a stream)
        "fingerprint": getattr(train_ds, "_fingerprint", None),
    }
    return {
        "run_name": Path(config.output_dir).name,
        # what training started from: a Hub id or a local folder (the card's metadata names
        # Hub ids only, as the Hub requires)
        "base_model": None if config.model_config else config.model,
        "base_model_is_local": not config.model_config and Path(config.model).exists(),
        "model_config": config.model_config,
        "dataset": dataset,
        "config": config.to_dict(),
        "steps": summary["steps"],
        "samples": summary["samples"],
        "num_processes": processes,
        "global_batch": config.per_device_batch_size
        * processes
        * config.gradient_accumulation_steps,
    }


def write_training_card(final_dir: Path, run: dict[str, Any]) -> None:
    """``final/training_run.json`` and the model card ``final/README.md`` made from it."""
    write_training_run(final_dir, run)
    render_model_card(final_dir)


def _save_final(accelerator, unwrapped, processor, final_dir: Path) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped.save_pretrained(final_dir, safe_serialization=True)
        processor.save_pretrained(final_dir)
    accelerator.wait_for_everyone()
