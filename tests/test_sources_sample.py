"""All three sources over the `quilt sample` corpus, checked against the corpus' own labels.

`labels.jsonl` lists every image the generator wrote with its sha256 and its deliberate fault, so
the expected pairs and skips come from the generator, not from this test.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict

import pytest
import yaml

from quilt_hf.records import Candidate
from quilt_hf.sources import laion, openpath, pubmed

pytestmark = pytest.mark.slow  # generating the corpus and its timeouts take ~20 s here

MODULES = {"openpath": openpath, "pubmed": pubmed, "laion": laion}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus
    from quilt_hf.synthetic.sample.server import serve_corpus

    out = tmp_path_factory.mktemp("sample")
    write_sample_corpus(out, seed=0, videos=False)
    config = yaml.safe_load((out / "build.yaml").read_text())
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    results = {}
    with serve_corpus(out):
        for subset, module in MODULES.items():
            tasks = module.plan_shards(
                config["sources"][subset],
                out,
                config["shard_size"],
                {"download": config["download"]},
            )
            results[subset] = [record for task in tasks for record in module.iter_candidates(task)]
    return labels, results


def split(records):
    candidates = [r for r in records if isinstance(r, Candidate)]
    skips = [r for r in records if not isinstance(r, Candidate)]
    return candidates, skips


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_openpath_on_sample(sample_run):
    labels, results = sample_run
    candidates, skips = split(results["openpath"])
    expected = Counter(label["sha256_raw"] for label in labels if label["subset"] == "openpath")
    assert Counter(sha(c.image_bytes) for c in candidates) == expected
    reasons = Counter(s.reason for s in skips)
    assert reasons["malformed_json"] == 1 and reasons["tweet_not_hydrated"] == 4
    assert reasons["no_media"] == 1 and reasons["http_404"] == 2
    for candidate in candidates:
        assert "#" not in candidate.caption and "https://t.co" not in candidate.caption
        assert "@" not in candidate.caption


def test_pubmed_on_sample(sample_run):
    labels, results = sample_run
    candidates, skips = split(results["pubmed"])
    pubmed_labels = [label for label in labels if label["subset"] == "pubmed"]
    figures = [c for c in candidates if c.source_id.count("/") == 1]
    panels = defaultdict(list)
    for c in candidates:
        if c.source_id.count("/") == 2:
            panels[c.source_id.rsplit("/", 1)[0]].append(c)
    # every figure that is not hostile XML or a path escape arrives (the truncated image too: the
    # shard runner's decoder is what rejects it)
    usable = [label for label in pubmed_labels if label["fault"] in (None, "truncated_image")]
    assert sorted(sha(c.image_bytes) for c in figures) == sorted(lb["sha256_raw"] for lb in usable)
    reasons = Counter(s.reason for s in skips)
    hostile_articles = {
        lb["source_id"].split("/")[0] for lb in pubmed_labels if lb["fault"] == "hostile_xml"
    }
    assert reasons["hostile_xml"] == len(hostile_articles) == 2
    unsafe = [lb["source_id"] for lb in pubmed_labels if lb["fault"] == "unsafe_path"]
    assert [s.detail.split(":")[0] for s in skips if s.reason == "unsafe_path"] == unsafe
    assert reasons["graphic_not_found"] == 1
    unsplit = {s.detail.split(":")[0] for s in skips if s.reason == "panels_unsplit"}
    by_id = {c.source_id: c for c in figures}
    for label in usable:
        if label["panels"] > 1:
            figure = by_id[label["source_id"]]
            assert figure.fields["single_wsi"] == 0
            if label["source_id"] in unsplit:  # the caption names a different number of panels
                assert len(figure.fields["roi_text"]) != label["panels"]
            else:
                assert len(panels[label["source_id"]]) == label["panels"]
    assert len(unsplit) == 1
    assert sum(len(v) for v in panels.values()) >= 9
    assert all(c.fields["license"].startswith("CC BY") for c in candidates)


def test_laion_on_sample(sample_run):
    labels, results = sample_run
    candidates, skips = split(results["laion"])
    downloadable = {None, "truncated_image", "decompression_bomb"}  # bytes arrive; decode rejects
    expected = Counter(
        label["sha256_raw"]
        for label in labels
        if label["subset"] == "laion" and label["fault"] in downloadable
    )
    assert Counter(sha(c.image_bytes) for c in candidates) == expected
    reasons = Counter(s.reason for s in skips)
    faults = Counter(label["fault"] for label in labels if label["subset"] == "laion")
    assert reasons["truncated"] == faults["truncated_transfer"] == 1
    assert reasons["x_robots_noai"] == faults["x_robots_noai"] == 1
    assert reasons["timeout"] == faults["timeout"] == 1
    assert reasons["http_500"] == reasons["http_404"] == reasons["not_an_image"] == 1
