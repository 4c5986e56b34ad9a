"""quilt-hf: QUILT-1M-style histopathology image-text curation and CLIP training on the HF stack."""

__version__ = "0.1.0"
