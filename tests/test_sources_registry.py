"""Each subset's build source is the module of the same name in ``quilt_hf/sources/``."""

from __future__ import annotations

import pytest

from quilt_hf.schema import SUBSETS
from quilt_hf.tasks import source_module


@pytest.mark.parametrize("subset", SUBSETS)
def test_every_subset_has_its_source_module(subset: str) -> None:
    module = source_module(subset)
    assert module.__name__ == f"quilt_hf.sources.{subset}"
    assert callable(module.plan_shards) and callable(module.iter_candidates)


def test_a_name_that_is_not_a_subset_is_refused() -> None:
    # a helper module of the package (or an old module name) is not a build source
    for name in ("inputs", "twitter", "web", "youtube"):
        with pytest.raises(KeyError, match="no build source"):
            source_module(name)
