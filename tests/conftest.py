"""Shared fixtures: the sample corpus is generated once per test session (it takes a while)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> Path:
    """The sample corpus without videos (sources: openpath, pubmed, laion)."""
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus

    out = tmp_path_factory.mktemp("sample") / "corpus"
    write_sample_corpus(out, seed=0, port=free_port(), videos=False)
    return out


@pytest.fixture(scope="session")
def built_sample(sample_corpus, tmp_path_factory) -> Path:
    """``quilt build`` of the sample corpus (no videos), built once."""
    from quilt_hf.build import build_dataset
    from quilt_hf.build_config import BuildConfig

    out = tmp_path_factory.mktemp("built") / "quilt_1m"
    result = build_dataset(BuildConfig.load(sample_corpus / "build.yaml"), out)
    assert not result.failed_tasks, result.failed_tasks
    return out
