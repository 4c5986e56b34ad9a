"""Shared fixtures: the sample corpus is generated once per test session (it takes a while)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Hermetic: nothing a test runs fetches from the real Hub, even on a machine that is online (the
# default punctuation model is ~2 GB), or reads the user's Hugging Face cache and token.
# huggingface_hub reads both once, at import, so they are set before anything imports it; tests
# that talk to the Hub double over loopback set their own in the commands they start.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="quilt-tests-hf-home-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)
os.environ.pop("HF_TOKEN", None)

import pytest  # noqa: E402  (after the environment above, on purpose)

from quilt_hf.synthetic.sample.server import free_port  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_datasets_cache(tmp_path_factory, monkeypatch) -> None:
    """A datasets cache per test (also for the CLIs a test starts).

    datasets 5.2 keys the cache of a local folder by its name and README ``configs:`` alone, not by
    its files: two different tiny folders named ``quilt_1m`` with the same card would share one
    cache entry, and a test would read another test's (or an earlier run's) rows.
    """
    import datasets.config

    cache = tmp_path_factory.mktemp("hf_datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "DOWNLOADED_DATASETS_PATH", cache / "downloads")
    monkeypatch.setattr(
        datasets.config, "EXTRACTED_DATASETS_PATH", cache / "downloads" / "extracted"
    )


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> Iterator[Path]:
    """The sample corpus without videos (sources: openpath, pubmed, laion), served all session.

    Its urls point at a loopback server; like ``quilt serve-sample`` this fixture serves it around
    every test that builds it (in this process or in a CLI the test starts).
    """
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus
    from quilt_hf.synthetic.sample.server import serve_corpus

    out = tmp_path_factory.mktemp("sample") / "corpus"
    write_sample_corpus(out, seed=0, port=free_port(), videos=False)
    with serve_corpus(out):
        yield out


@pytest.fixture(scope="session")
def built_sample(sample_corpus, tmp_path_factory) -> Path:
    """``quilt build`` of the sample corpus (no videos), built once."""
    from quilt_hf.build import build_dataset
    from quilt_hf.build_config import BuildConfig

    out = tmp_path_factory.mktemp("built") / "quilt_1m"
    result = build_dataset(BuildConfig.load(sample_corpus / "build.yaml"), out)
    assert not result.failed_tasks, result.failed_tasks
    return out
