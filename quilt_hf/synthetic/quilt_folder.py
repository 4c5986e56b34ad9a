"""Write synthetic rows as a dataset folder in the quilt_1m layout (parquet shards + README).

``data/{split}-XXXXX-of-XXXXX.parquet`` with the schema's own arrow schema (so the ``huggingface``
features metadata is embedded, as ``datasets`` writes it) and a README whose YAML ``configs:``
points ``load_dataset`` at the shards, as ``quilt build`` does. Used by the gallery dataset, the
tiny trainer dataset and the tiny eval/Hub folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.schema import FEATURES


def folder_card(splits: list[str], license: str | None = None) -> str:
    """A README whose YAML ``configs:`` maps each split to its parquet shards."""
    files = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in splits)
    license_line = f"license: {license}\n" if license else ""
    header = f"configs:\n- config_name: default\n  data_files:\n{files}\n{license_line}"
    return f"---\n{header}---\n# tiny quilt_1m\n"


def write_quilt_rows(
    folder: Path,
    rows_by_split: dict[str, list[dict[str, Any]]],
    *,
    train_shards: int = 1,
    card: bool = True,
    license: str | None = None,
) -> Path:
    """Write complete records (every schema column) per split; returns ``folder``.

    The train split is cut into ``train_shards`` contiguous shards, the others into one. Empty
    splits are not written (and not named in the card).
    """
    folder = Path(folder)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    written = []
    for split, rows in rows_by_split.items():
        if not rows:
            continue
        count = train_shards if split == "train" else 1
        for k, indices in enumerate(np.array_split(np.arange(len(rows)), count)):
            table = pa.Table.from_pylist([rows[i] for i in indices], schema=FEATURES.arrow_schema)
            pq.write_table(table, folder / "data" / f"{split}-{k:05d}-of-{count:05d}.parquet")
        written.append(split)
    if card:
        (folder / "README.md").write_text(folder_card(written, license), encoding="utf-8")
    return folder
