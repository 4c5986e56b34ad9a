"""What the parts of the sample corpus share: file writing, image encoding, labels and faults.

Every part (tweets, PubMed, web, videos) writes through one ``CorpusWriter`` so that all files stay
inside the output folder, every image gets a ground-truth label, and every scripted server fault
lands in ``web/_faults.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

WEB_DIR = "web"  # what `quilt serve-sample` serves (quilt_hf.synthetic.sample.server)
SERVER_FILE = "server.json"  # {"root": "web", "port": N}: where the corpus' urls expect the server


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Label:
    """Ground truth for one image file of the corpus (a line of ``labels.jsonl``)."""

    subset: str
    source_id: str
    path: str  # relative to the corpus folder, or "pubmed/X.tar.gz::member" inside a package
    sha256_raw: str  # sha256 of the file's bytes as stored
    histology: bool
    magnification: int | None  # 0/1/2 for histology of one known zoom, else None
    kind: str  # "H&E", "IHC", "composite", or a non-histology kind ("chart", "people", ...)
    fault: str | None = None  # why the build must NOT turn this image into a row, if it must not
    panels: int = 1  # number of panels for composite figures


@dataclass
class CorpusWriter:
    """Writes files under ``root`` and collects labels and server faults."""

    root: Path
    base_url: str  # "http://127.0.0.1:PORT", the sample server's address
    labels: list[Label] = field(default_factory=list)
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, relative: str, data: bytes) -> Path:
        """Write ``data`` to ``root/relative``; refuses paths that would leave ``root``."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"refusing to write outside the corpus: {relative}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def write_web(self, url_path: str, data: bytes) -> str:
        """Write a file the sample server serves at ``url_path`` ("/laion/x.jpg"); return its url."""
        self.write(f"{WEB_DIR}{url_path}", data)
        return self.url(url_path)

    def url(self, url_path: str) -> str:
        return f"{self.base_url}{url_path}"

    def add_fault(self, url_path: str, **behaviour: Any) -> None:
        self.faults[url_path] = behaviour

    def label(self, data: bytes, **fields: Any) -> None:
        self.labels.append(Label(sha256_raw=sha256_hex(data), **fields))

    def finish(self) -> None:
        """Write ``labels.jsonl`` (sorted by path) and ``web/_faults.json``."""
        lines = [json.dumps(asdict(label)) for label in sorted(self.labels, key=lambda x: x.path)]
        self.write("labels.jsonl", ("\n".join(lines) + "\n").encode())
        faults = json.dumps(dict(sorted(self.faults.items())), indent=2)
        self.write(f"{WEB_DIR}/_faults.json", (faults + "\n").encode())
