"""`quilt build --executor ray` through the CLI entry point, on a local Ray (2 CPUs)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quilt_hf.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_files(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((folder / "data").glob("*.parquet"))
    }


@pytest.mark.slow
def test_ray_build_equals_local_build(sample_corpus: Path, built_sample: Path, tmp_path, capsys):
    import ray

    out = tmp_path / "ray_build"
    config = str(sample_corpus / "build.yaml")
    try:
        code = main(
            ["build", "--config", config, "--out", str(out), "--executor", "ray", "--workers", "2",
             "--ray-resources", "laion=num_cpus:1", "--ray-actors", "pubmed=1"]
        )  # fmt: skip
        assert code == 0, capsys.readouterr().err
        assert ray.cluster_resources().get("CPU") == 2  # the local Ray the CLI started
        # row for row and byte for byte what the local executor built (built_sample)
        assert data_files(out) == data_files(built_sample)
        local = pq.read_table(sorted((built_sample / "data").glob("*.parquet")))
        remote = pq.read_table(sorted((out / "data").glob("*.parquet")))
        assert remote.num_rows == local.num_rows > 0
        assert remote.equals(local)

        # a resource no node has: refused before anything is submitted, not pending forever
        capsys.readouterr()
        code = main(
            ["build", "--config", config, "--out", str(tmp_path / "gpu"), "--executor", "ray",
             "--ray-resources", "laion=num_gpus:1"]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1
        assert "--ray-resources laion: no node of the Ray cluster has {'CPU': 1, 'GPU': 1.0}" in err
        assert "Traceback" not in err
        assert not (tmp_path / "gpu" / "data").exists()
    finally:
        ray.shutdown()


def test_ray_address_without_a_cluster_is_a_clear_error(sample_corpus: Path, tmp_path, capsys):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    code = main(
        ["build", "--config", str(sample_corpus / "build.yaml"), "--out", str(tmp_path / "o"),
         "--executor", "ray", "--ray-address", address]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"quilt: error: no Ray cluster at {address}" in err
    assert "ray start --head" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_ray_flags_name_known_subsets(sample_corpus: Path, tmp_path, capsys):
    code = main(
        ["build", "--config", str(sample_corpus / "build.yaml"), "--out", str(tmp_path / "o"),
         "--executor", "ray", "--ray-resources", "youtube=num_gpus:1"]
    )  # fmt: skip
    assert code == 1
    assert "unknown subset 'youtube'" in capsys.readouterr().err
