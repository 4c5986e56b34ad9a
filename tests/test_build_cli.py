"""`quilt build` command-line parsing that needs no corpus."""

import pytest

from quilt_hf.commands.build import parse_actors, parse_resources
from quilt_hf.errors import QuiltError


def test_ray_resources_per_subset():
    assert parse_resources(["quilt=num_gpus:1,num_cpus:2", "laion=num_cpus:0.5"]) == {
        "quilt": {"num_gpus": 1.0, "num_cpus": 2.0},
        "laion": {"num_cpus": 0.5},
    }
    with pytest.raises(QuiltError, match="expected SUBSET=KEY:VALUE"):
        parse_resources(["quilt=gpu"])


def test_ray_actors_per_subset():
    assert parse_actors(["quilt=2", "pubmed=1"]) == {"quilt": 2, "pubmed": 1}
    with pytest.raises(QuiltError, match="expected SUBSET=N"):
        parse_actors(["quilt=two"])
