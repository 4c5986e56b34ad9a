"""Fingerprint a built dataset folder so two builds can be compared row for row and byte for byte.

    python scripts/build_fingerprint.py OUT > before.json      # e.g. with main's code
    python scripts/build_fingerprint.py OUT --compare before.json

Per split, one sha256 per row over every column (image bytes included) in file order; the sha256 of
each parquet file and of README.md; build_stats.json without its timing. ``--compare`` exits 1 and
names what differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq


def row_digest(row: dict) -> str:
    def plain(value):
        if isinstance(value, bytes):
            return hashlib.sha256(value).hexdigest()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return hashlib.sha256(json.dumps(plain(row), sort_keys=True).encode()).hexdigest()


def fingerprint(folder: Path) -> dict:
    rows: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        split = path.name.split("-", 1)[0]
        rows.setdefault(split, []).extend(row_digest(r) for r in pq.read_table(path).to_pylist())
    stats = json.loads((folder / "build_stats.json").read_text())
    stats.pop("seconds", None)
    card = folder / "README.md"
    return {
        "rows": rows,
        "files": files,
        "card": hashlib.sha256(card.read_bytes()).hexdigest() if card.exists() else None,
        "stats": stats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--compare", type=Path, help="a fingerprint JSON written earlier")
    args = parser.parse_args()
    current = fingerprint(args.folder)
    if not args.compare:
        json.dump(current, sys.stdout, indent=1)
        return 0
    before = json.loads(args.compare.read_text())
    differing = [key for key in current if current[key] != before.get(key)]
    for key in differing:
        if key == "stats":  # name the part: e.g. only the config echo gained new typed keys
            parts = [k for k in current[key] if current[key][k] != before[key].get(k)]
            print(f"DIFFERENT: stats ({', '.join(parts)})")
        else:
            print(f"DIFFERENT: {key}")
    n = sum(len(v) for v in current["rows"].values())
    print("identical" if not differing else "differs", f"({n} rows)")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
