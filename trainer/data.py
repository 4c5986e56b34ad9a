"""Reading an image-text dataset for CLIP training: loading, sampling, decoding, batching.

Sampling rule (many-to-many pairs): Quilt pairs are many-to-many - one image can have several
rows (same ``image_sha256``) and a row can hold several texts (``roi_text`` is a list). Training
data is therefore indexed by unique image, not by row: an epoch visits every unique image exactly
once, and each visit picks one of the image's rows uniformly, then one of that row's non-empty texts
uniformly, with an RNG seeded by (seed, epoch, image). So an image is never duplicated in an epoch
(which would put the same image twice in a contrastive batch as a false negative) and every text is
still seen over epochs. Streaming datasets cannot be grouped ahead of time: there, each row is one
item and only the text choice within a row is sampled.

Images are decoded here, not by ``datasets`` (the image column is cast to ``Image(decode=False)``),
so an image that fails to decode is skipped and counted instead of crashing the run.
"""

from __future__ import annotations

import io
import math
import os
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.image_groups import image_codes, rows_per_image
from trainer.config import TrainConfig
from trainer.transforms import RATIO, TRAIN_SCALE, eval_transform, train_transform

SKIP_REASONS = ("corrupt_image", "missing_image", "no_text")
WEBDATASET_IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")


# ----------------------------------------------------------------------------- loading


def detect_format(config: TrainConfig) -> str:
    if config.dataset_format != "auto":
        return config.dataset_format
    path = Path(config.dataset)
    if config.dataset.endswith(".tar") or (
        path.is_dir() and not _has_parquet(path) and _tars(path)
    ):
        return "webdataset"
    return "hf"


def _has_parquet(path: Path) -> bool:
    return any(path.glob("*.parquet")) or any(path.glob("data/*.parquet"))


def _tars(path: Path) -> list[str]:
    return sorted(glob(str(path / "*.tar")) + glob(str(path / "webdataset" / "*.tar")))


def _webdataset_files(config: TrainConfig) -> dict[str, list[str]]:
    if config.dataset.endswith(".tar") or any(c in config.dataset for c in "*?["):
        files = sorted(glob(config.dataset))
        return {config.train_split: files} if files else {}
    splits: dict[str, list[str]] = {}
    for tar in _tars(Path(config.dataset)):
        split = Path(tar).name.split("-")[0]
        splits.setdefault(split, []).append(tar)
    return splits


def load_split(config: TrainConfig, split: str):
    """One split as a ``datasets`` Dataset (or IterableDataset when streaming)."""
    from datasets import load_dataset

    from quilt_hf.dataset_loading import load_dataset as load_local_or_hub

    fmt = detect_format(config)
    try:
        if fmt == "webdataset":
            files = _webdataset_files(config)
            if split not in files:
                raise QuiltError(
                    f"no webdataset shards for split {split!r} under {config.dataset} "
                    f"(found splits: {sorted(files) or 'none'}; shards are named SPLIT-XXXXX.tar)"
                )
            ds = load_dataset(
                "webdataset",
                data_files={split: files[split]},
                split=split,
                streaming=config.streaming,
            )
            ds = _standardize_webdataset(ds)
        else:
            ds = load_local_or_hub(
                config.dataset, config.dataset_config, split=split, streaming=config.streaming
            )
    except QuiltError:
        raise
    except ValueError as err:  # datasets raises ValueError for an unknown or empty split
        if "corresponds to no data" in str(err):
            raise QuiltError(f"split {split!r} of {config.dataset} is empty") from err
        raise QuiltError(f"cannot load split {split!r} of {config.dataset}: {err}") from err
    except FileNotFoundError as err:
        raise QuiltError(f"dataset {config.dataset!r} not found: {err}") from err
    return _check_columns(ds, config, split)


def _standardize_webdataset(ds):
    """Map webdataset members (``jpg``, ``txt``, ``json``) onto the Quilt column names."""
    columns = list(ds.features or {})
    image_key = next((k for k in WEBDATASET_IMAGE_KEYS if k in columns), None)
    if image_key and image_key != "image":
        ds = ds.rename_column(image_key, "image")
    if "txt" in columns and "caption" not in columns:
        ds = ds.rename_column("txt", "caption")
    if "json" in columns:
        ds = ds.flatten()
        for name in list(ds.features):
            if name.startswith("json.") and name[5:] not in ds.features:
                ds = ds.rename_column(name, name[5:])
    return ds


def _check_columns(ds, config: TrainConfig, split: str):
    from datasets import Image as ImageFeature

    columns = list(ds.features or {})
    for needed, flag in (
        (config.text_column, "--text_column"),
        (config.image_column, "--image_column"),
    ):
        if needed not in columns:
            raise QuiltError(
                f"split {split!r} of {config.dataset} has no column {needed!r} (set {flag}); "
                f"columns: {', '.join(columns)}"
            )
    if not config.streaming and len(ds) == 0:
        raise QuiltError(f"split {split!r} of {config.dataset} is empty")
    return ds.cast_column(config.image_column, ImageFeature(decode=False))


# ----------------------------------------------------------------------------- decoding


def decode_image(value: Any, min_side: int | None = None) -> Image.Image:
    """A ``datasets`` Image value (``{"bytes", "path"}``) -> RGB PIL image, or SkipRecord.

    With ``min_side``, a JPEG at least twice that size is decoded at a reduced DCT scale
    (``Image.draft``: 1/2, 1/4 or 1/8) whose short side is still >= ``min_side``. The crop that
    follows never upsamples, and decoding a 1280x720 frame for a 224 px crop costs a fraction.
    """
    if value is None:
        raise SkipRecord("missing_image")
    data = value.get("bytes") if isinstance(value, dict) else None
    path = value.get("path") if isinstance(value, dict) else None
    try:
        if data:
            image = Image.open(io.BytesIO(data))
        elif path and os.path.isfile(path):
            image = Image.open(path)
        else:
            raise SkipRecord("missing_image", str(path or ""))
        if min_side and image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        image.load()
        return image.convert("RGB")
    except SkipRecord:
        raise
    except Exception as err:  # PIL raises many types for bad bytes
        raise SkipRecord("corrupt_image", f"{type(err).__name__}: {err}") from err


def decode_side(image_size: int) -> int:
    """The short side a training image needs so that a TRAIN_SCALE crop is >= ``image_size``."""
    return math.ceil(image_size / math.sqrt(TRAIN_SCALE[0]) * max(RATIO) ** 0.5)


def texts_of(value: Any) -> list[str]:
    """Non-empty texts of one cell: a string or a list of strings (``roi_text``)."""
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def group_rows(ds, group_column: str) -> list[np.ndarray]:
    """Row indices per unique value of ``group_column`` (a row with no value is its own group)."""
    if group_column not in ds.features:
        return [np.array([i]) for i in range(len(ds))]
    return rows_per_image(image_codes(ds.data.column(group_column)))


# ----------------------------------------------------------------------------- datasets


class ImageGroupDataset(torch.utils.data.Dataset):
    """Training items, one per unique image; index keys encode (epoch, image) for sampling."""

    def __init__(self, ds, config: TrainConfig, image_size: int) -> None:
        if getattr(ds, "_indices", None) is not None:  # rows must match the arrow table
            ds = ds.flatten_indices()
        self.groups = group_rows(ds, config.group_column)
        self.ds = ds.select_columns([config.image_column, config.text_column])
        self.image_column, self.text_column = config.image_column, config.text_column
        self.seed, self.image_size = config.seed, image_size
        self._columns: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Spawned workers re-open the memory-mapped dataset instead of pickling arrow buffers.
        return {**self.__dict__, "_columns": None}

    def _cell(self, column: str, row: int) -> Any:
        # Arrow scalars directly: ~20x cheaper than formatting a `datasets` row per access.
        if self._columns is None:
            self._columns = {
                c: self.ds.data.column(c) for c in (self.image_column, self.text_column)
            }
        return self._columns[column][row].as_py()

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, key: int) -> dict[str, Any]:
        epoch, group = divmod(int(key), len(self.groups))
        rng = np.random.default_rng([self.seed, epoch, group])
        rows = self.groups[group]
        text = None
        for row in rng.permutation(rows):
            candidates = texts_of(self._cell(self.text_column, int(row)))
            if candidates:
                text = candidates[int(rng.integers(len(candidates)))]
                break
        if text is None:
            return {"skip": "no_text"}
        try:
            image = decode_image(
                self._cell(self.image_column, int(rows[0])), min_side=decode_side(self.image_size)
            )
        except SkipRecord as skip:
            return {"skip": skip.reason}
        return {"pixel_values": train_transform(image, self.image_size, rng), "text": text}


class EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """This process's micro-batches of item keys, epoch after epoch, in one endless iterator.

    Each epoch is a seeded permutation of the items cut into global batches of
    ``batch_size * num_processes * accumulation`` (the contrastive batch of one optimizer step);
    each global batch is cut into ``accumulation`` micro-batches, and process ``rank`` takes its
    slice of each. Like open_clip, an epoch's last partial global batch is dropped (a batch of a
    few pairs is a near-trivial contrastive task), unless the dataset is smaller than one global
    batch: that is then the only batch. Keys are ``epoch * size + item``, so that items seed their
    own augmentation and text choice from (seed, epoch, item) inside the workers.

    Why endless: a DataLoader iterated once per epoch leaves its workers idle while the model
    trains on the epoch's last prefetched batches, and then the model waits for the next epoch's
    first batch (about 10% of step time on a 2-core CPU). Why we shard here rather than let
    Accelerate shard the batches: every process then has the same batches per epoch, so a data
    position (epoch, batch) means the same on every process and a resumed run starts there
    directly instead of loading and discarding the batches already seen.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        num_processes: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        accumulation: int = 1,
    ) -> None:
        if size <= 0:
            raise ValueError("EpochBatchSampler needs at least one item")
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.batch_size, self.num_processes, self.rank = batch_size, num_processes, rank
        self.accumulation = accumulation
        self.global_batch = min(batch_size * num_processes * accumulation, size)
        # counted in micro-batches: the data position a checkpoint records
        self.batches_per_epoch = size // self.global_batch * accumulation
        self.start = (0, 0)

    def start_at(self, epoch: int, batch: int) -> None:
        """Begin the next iterator at micro-batch ``batch`` of epoch ``epoch``."""
        self.start = (epoch + batch // self.batches_per_epoch, batch % self.batches_per_epoch)

    def epoch_keys(self, epoch: int) -> np.ndarray:
        order = np.arange(self.size)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return epoch * self.size + order

    def __iter__(self):
        epoch, first = self.start
        while True:
            keys = self.epoch_keys(epoch)
            for batch in range(first, self.batches_per_epoch):
                step, micro = divmod(batch, self.accumulation)
                chunk = keys[step * self.global_batch : (step + 1) * self.global_batch]
                micro_chunk = np.array_split(chunk, self.accumulation)[micro]
                yield np.array_split(micro_chunk, self.num_processes)[self.rank].tolist()
            epoch, first = epoch + 1, 0


class StreamingTransform:
    """Per-row decoding for streaming datasets (run inside the DataLoader collate)."""

    def __init__(self, config: TrainConfig, image_size: int) -> None:
        self.config, self.image_size, self.epoch = config, image_size, 0

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        value = row.get(self.config.image_column)
        salt = zlib.crc32((value or {}).get("bytes") or b"") if isinstance(value, dict) else 0
        rng = np.random.default_rng([self.config.seed, self.epoch, salt])
        candidates = texts_of(row.get(self.config.text_column))
        if not candidates:
            return {"skip": "no_text"}
        try:
            image = decode_image(value, min_side=decode_side(self.image_size))
        except SkipRecord as skip:
            return {"skip": skip.reason}
        text = candidates[int(rng.integers(len(candidates)))]
        return {"pixel_values": train_transform(image, self.image_size, rng), "text": text}


# ----------------------------------------------------------------------------- batching


@dataclass
class TextEncoder:
    """Tokenise a batch: CLIP BOS/EOS, truncate to ``max_length`` (counted), pad to the longest."""

    tokenizer: Any
    max_length: int = 77

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, int]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None and backend.truncation is None and backend.padding is None:
            # The Rust tokenizer directly: faster in workers, and no per-batch "longer than 77"
            # warning (truncation is counted and reported instead).
            encoded = [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=True)]
        else:
            encoded = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)[
                "input_ids"
            ]
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        truncated = sum(len(ids) > self.max_length for ids in encoded)
        encoded = [
            ids if len(ids) <= self.max_length else ids[: self.max_length - 1] + [eos]
            for ids in encoded
        ]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, ids in enumerate(encoded):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention_mask[i, : len(ids)] = 1
        return input_ids, attention_mask, truncated


class TrainCollator:
    """Drop skipped items (counting why), stack images, tokenise texts."""

    def __init__(
        self, encoder: TextEncoder, image_size: int, per_row: StreamingTransform | None = None
    ) -> None:
        self.encoder, self.image_size, self.per_row = encoder, image_size, per_row

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        if self.per_row is not None:
            items = [self.per_row(row) for row in items]
        skipped = Counter(item["skip"] for item in items if "skip" in item)
        kept = [item for item in items if "skip" not in item]
        # Counters travel as plain ints: every tensor that crosses the worker queue costs a
        # shared-memory segment in both processes.
        batch: dict[str, Any] = {
            f"skipped_{reason}": skipped.get(reason, 0) for reason in SKIP_REASONS
        }
        if kept:
            input_ids, attention_mask, truncated = self.encoder([item["text"] for item in kept])
            # default_collate stacks straight into shared memory inside a DataLoader worker:
            # the batch then crosses to the main process without another copy
            batch["pixel_values"] = torch.utils.data.default_collate(
                [item["pixel_values"] for item in kept]
            )
        else:  # every item failed: an empty batch that the loop skips
            input_ids = torch.zeros((0, 2), dtype=torch.long)
            attention_mask = torch.zeros((0, 2), dtype=torch.long)
            truncated = 0
            batch["pixel_values"] = torch.zeros((0, 3, self.image_size, self.image_size))
        batch.update(input_ids=input_ids, attention_mask=attention_mask)
        batch["truncated_texts"] = truncated
        return batch


def _cores_per_process(num_processes: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(num_processes, 1))


def default_num_workers(num_processes: int) -> int:
    """Leave one core per process for the model; the rest decode images (at most 8 each)."""
    return max(0, min(8, _cores_per_process(num_processes) - 1))


def cpu_model_threads(num_processes: int, num_workers: int) -> int:
    """Intra-op threads for a model on the CPU: the cores the data workers leave free.

    torch uses every core by default, and its busy-waiting threads then starve the data workers:
    on 2 cores with 1 worker, one thread trains the tiny CLIP ~35% faster than two, and the
    model stops waiting for data."""
    return max(1, _cores_per_process(num_processes) - num_workers)


class TrainBatches:
    """The training batches from a data position on: endless, epoch after epoch.

    ``from_position(epoch, batch)`` yields ``(batch, epoch, consumed)`` where (epoch, consumed) is
    the data position *after* that batch - what a checkpoint saved at this step must record. A
    map-style dataset is read through one DataLoader iterator for the whole run (see
    EpochBatchSampler); a stream has no known length, so its DataLoader is iterated once per epoch
    and a resumed epoch loads and discards the batches already trained on.
    """

    def __init__(
        self,
        loader: torch.utils.data.DataLoader,
        sampler: EpochBatchSampler | None = None,
        stream=None,
        per_row: StreamingTransform | None = None,
    ) -> None:
        self.loader, self.sampler, self.stream, self.per_row = loader, sampler, stream, per_row

    @property
    def num_items(self) -> int | None:
        return None if self.sampler is None else self.sampler.size

    @property
    def batches_per_epoch(self) -> int | None:
        return None if self.sampler is None else self.sampler.batches_per_epoch

    def from_position(self, epoch: int, batch: int):
        if self.sampler is not None:
            self.sampler.start_at(epoch, batch)
            epoch, batch = self.sampler.start
            for item in self.loader:
                batch += 1
                if batch == self.sampler.batches_per_epoch:
                    epoch, batch = epoch + 1, 0
                yield item, epoch, batch
            return
        from accelerate import skip_first_batches

        while True:
            self.stream.set_epoch(epoch)
            self.per_row.epoch = epoch
            resumed = batch > 0
            epoch_loader = skip_first_batches(self.loader, batch) if resumed else self.loader
            for item in epoch_loader:
                batch += 1
                yield item, epoch, batch
            if batch == 0 and not resumed:
                raise QuiltError(f"the training stream gave no batch in epoch {epoch}")
            epoch, batch = epoch + 1, 0


def build_train_loader(
    ds, config: TrainConfig, image_size: int, tokenizer, num_processes: int, process_index: int = 0
) -> TrainBatches:
    """This process's training batches (decoded, augmented, tokenised) in DataLoader workers."""
    workers = (
        config.num_workers if config.num_workers is not None else default_num_workers(num_processes)
    )
    encoder = TextEncoder(tokenizer, config.max_text_length)
    common = {
        "num_workers": workers,
        "pin_memory": torch.cuda.is_available(),
        "prefetch_factor": 4 if workers > 0 else None,
    }
    if config.streaming:
        per_row = StreamingTransform(config, image_size)
        from datasets.distributed import split_dataset_by_node

        stream = ds.shuffle(seed=config.seed, buffer_size=config.shuffle_buffer)
        if num_processes > 1:
            stream = split_dataset_by_node(stream, rank=process_index, world_size=num_processes)
        loader = torch.utils.data.DataLoader(
            stream,
            batch_size=config.per_device_batch_size,
            collate_fn=TrainCollator(encoder, image_size, per_row),
            persistent_workers=workers > 0,
            **common,
        )
        return TrainBatches(loader, stream=stream, per_row=per_row)
    dataset = ImageGroupDataset(ds, config, image_size)
    sampler = EpochBatchSampler(
        len(dataset),
        config.per_device_batch_size,
        config.seed,
        num_processes,
        process_index,
        accumulation=config.gradient_accumulation_steps,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, collate_fn=TrainCollator(encoder, image_size), **common
    )
    return TrainBatches(loader, sampler=sampler)


# ----------------------------------------------------------------------------- evaluation data


class EvalData:
    """Unique images of the eval split and all their texts (positives grouped by image)."""

    def __init__(self, ds, config: TrainConfig) -> None:
        if config.streaming:
            from datasets import Dataset

            limit = config.max_eval_samples or 10_000
            ds = Dataset.from_list(list(ds.take(limit)), features=ds.features)
        groups = group_rows(ds, config.group_column)
        if config.max_eval_samples:
            groups = groups[: config.max_eval_samples]
        text_cells = ds.select_columns([config.text_column])[config.text_column]
        self.image_rows = [int(rows[0]) for rows in groups]
        self.texts: list[str] = []
        self.text_image: list[int] = []  # index into image_rows of each text's image
        for image_index, rows in enumerate(groups):
            for row in rows:
                for text in texts_of(text_cells[int(row)]):
                    self.texts.append(text)
                    self.text_image.append(image_index)
        if not self.texts:
            raise QuiltError(f"eval split has no text in column {config.text_column!r}")
        self.images = ds.select_columns([config.image_column])
        self.image_column = config.image_column


class EvalImages(torch.utils.data.Dataset):
    def __init__(self, data: EvalData, image_size: int) -> None:
        self.data, self.image_size = data, image_size

    def __len__(self) -> int:
        return len(self.data.image_rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            image = decode_image(
                self.data.images[self.data.image_rows[index]][self.data.image_column],
                min_side=self.image_size,  # eval resizes the short side to image_size
            )
        except SkipRecord as skip:
            return {"skip": skip.reason, "index": index}
        return {"pixel_values": eval_transform(image, self.image_size), "index": index}


def collate_eval_images(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    kept = [item for item in items if "skip" not in item]
    return {
        "pixel_values": torch.stack([item["pixel_values"] for item in kept])
        if kept
        else torch.zeros((0, 3, 1, 1)),
        "index": torch.tensor([item["index"] for item in kept], dtype=torch.long),
    }
