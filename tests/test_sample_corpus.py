"""The sample corpus: deterministic, complete, labelled, and in formats real libraries parse."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path

import defusedxml.ElementTree as DET
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from defusedxml import EntitiesForbidden
from PIL import Image

from quilt_hf.cli import main
from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.corpus import write_sample_corpus
from quilt_hf.synthetic.sample.pubmed import GUTTER
from quilt_hf.synthetic.sample.server import free_port

XLINK = "{http://www.w3.org/1999/xlink}href"


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, port: int) -> Path:
    out = tmp_path_factory.mktemp("sample") / "corpus"
    assert main(["sample", "--out", str(out), "--port", str(port), "--no-videos"]) == 0
    return out


def corpus_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def read_labels(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines()]


def tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def nxml_of(members: dict[str, bytes]) -> bytes:
    (name,) = [n for n in members if n.endswith(".nxml")]
    return members[name]


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files_and_port_only_changes_urls(
    corpus: Path, tmp_path: Path, port: int
) -> None:
    again = write_sample_corpus(tmp_path / "again", seed=0, port=port, videos=False)
    assert corpus_files(corpus) == corpus_files(again.out_dir)

    other_port = port + 1 if port < 65535 else port - 1
    moved = write_sample_corpus(tmp_path / "moved", seed=0, port=other_port, videos=False)
    original, shifted = corpus_files(corpus), corpus_files(moved.out_dir)
    assert original.keys() == shifted.keys()
    changed = {name for name in original if original[name] != shifted[name]}
    # Only files that carry urls or the port differ, and only by the port.
    # (labels.jsonl: a web row's source_id is its url)
    assert changed == {
        "server.json", "README.md", "labels.jsonl", "openpath/tweets.jsonl", "laion/metadata.parquet"
    }  # fmt: skip
    for name in ("server.json", "README.md", "labels.jsonl", "openpath/tweets.jsonl"):
        text = original[name].decode().replace(f"127.0.0.1:{port}", f"127.0.0.1:{other_port}")
        assert (
            text.replace(f'"port": {port}}}', f'"port": {other_port}}}') == shifted[name].decode()
        )
    urls = pq.read_table(moved.out_dir / "laion/metadata.parquet").column("url").to_pylist()
    assert all(url.startswith(f"http://127.0.0.1:{other_port}/") for url in urls)


def test_a_different_seed_gives_different_images(tmp_path: Path) -> None:
    # Only the tweet part is compared, to keep the test fast; it draws its own tiles.
    from quilt_hf.synthetic.sample.common import CorpusWriter
    from quilt_hf.synthetic.sample.tweets import write_sample_tweets

    photos = []
    for seed in (0, 1):
        writer = CorpusWriter(tmp_path / str(seed), "http://127.0.0.1:1")
        _, written = write_sample_tweets(writer, np.random.default_rng(seed))
        photos.append({hashlib.sha256(data).hexdigest() for data, _ in written})
    assert photos[0].isdisjoint(photos[1])


# --- build.yaml, labels, size -------------------------------------------------------------------


def test_build_yaml_is_the_contract(corpus: Path, port: int) -> None:
    config = yaml.safe_load((corpus / "build.yaml").read_text())
    assert list(config) == [
        "name", "seed", "val_fraction", "shard_size", "image", "filters", "download",
        "sources",
    ]  # fmt: skip
    assert config["name"] == "quilt_1m" and config["seed"] == 0
    assert config["image"] == {"max_side": 512, "min_side": 64, "max_pixels": 50_000_000}
    assert config["filters"]["histology"] == {"backend": "stain", "threshold": 0.5}
    assert config["filters"]["dedup"] == {"exact": True, "phash_max_distance": 6}
    assert config["download"] == {"timeout": 2.0, "retries": 1, "threads": 16}
    assert "sample_server" not in config  # the build starts no server (quilt serve-sample does)
    assert json.loads((corpus / "server.json").read_text()) == {"root": "web", "port": port}
    assert config["sources"] == {
        "openpath": {
            "tweets": ["openpath/tweets.jsonl"],
            "requested_ids": "openpath/tweet_ids.txt",
        },
        "pubmed": {"packages": ["pubmed/*.tar.gz"]},
        "laion": {"metadata": ["laion/metadata.parquet"], "min_similarity": 0.0},
    }
    # Every path and glob in sources resolves relative to build.yaml's folder.
    assert len(list(corpus.glob("pubmed/*.tar.gz"))) >= 8
    assert (corpus / "openpath/tweets.jsonl").is_file() and (corpus / "web").is_dir()


def test_every_label_names_an_existing_file_with_its_hash(corpus: Path) -> None:
    labels = read_labels(corpus)
    packages: dict[str, dict[str, bytes]] = {}
    for label in labels:
        if "::" in label["path"]:
            package, member = label["path"].split("::")
            members = packages.setdefault(package, tar_members(corpus / package))
            data = members[member]
        else:
            data = (corpus / label["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == label["sha256_raw"], label["path"]
        assert label["subset"] in {"openpath", "pubmed", "laion"}
        assert label["magnification"] in (0, 1, 2, None)
        if not label["histology"]:
            assert label["magnification"] is None
    assert len({label["path"] for label in labels}) == len(labels)


def test_corpus_has_enough_variety_and_stays_small(corpus: Path) -> None:
    labels = read_labels(corpus)
    usable = [label for label in labels if not label["fault"]]
    histology = [label for label in usable if label["histology"]]
    assert 60 <= len(histology) <= 100
    assert 25 <= len(usable) - len(histology) <= 40
    for subset in ("openpath", "pubmed", "laion"):  # every source gives the filter work both ways
        assert {label["histology"] for label in usable if label["subset"] == subset} == {
            True,
            False,
        }
    assert {label["magnification"] for label in histology} >= {0, 1, 2}
    assert {label["kind"] for label in histology} >= {"H&E", "IHC", "composite"}
    assert {label["kind"] for label in usable if not label["histology"]} >= {
        "chart", "people", "text_slide", "scene", "kaplan_meier"
    }  # fmt: skip
    assert {label["fault"] for label in labels} >= {
        "truncated_image", "decompression_bomb", "hostile_xml", "unsafe_path", "timeout",
        "x_robots_noai", "truncated_transfer",
    }  # fmt: skip
    total = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    assert total < 15_000_000
    assert "Deliberately bad inputs" in (corpus / "README.md").read_text()


def test_histology_labels_look_like_stained_tissue(corpus: Path) -> None:
    # Ground truth must be honest: histology tiles are mostly tissue, purple/pink or brown.
    from quilt_hf.synthetic.histology import tissue_fraction

    for label in read_labels(corpus):
        if label["histology"] and label["kind"] in ("H&E", "IHC") and not label["fault"]:
            if label["subset"] == "pubmed":
                continue
            with Image.open(corpus / label["path"]) as image:
                pixels = np.asarray(image.convert("RGB"))
            assert tissue_fraction(pixels) >= 0.4, label["path"]


# --- re-running into a folder ---------------------------------------------------------------


def test_rerun_replaces_only_what_the_previous_run_created(tmp_path: Path) -> None:
    from quilt_hf.synthetic.sample.corpus import MARKER, _prepare

    out = tmp_path / "c"
    out.mkdir()
    (out / "stray.txt").write_text("x")
    with pytest.raises(QuiltError, match="not empty"):
        _prepare(out)

    (out / "stray.txt").unlink()
    assert _prepare(out) == set()
    (out / "web" / "media").mkdir(parents=True)
    (out / "web" / "media" / "old.jpg").write_bytes(b"stale")
    (out / "build.yaml").write_text("name: x\n")
    (out / "quilt_1m").mkdir()  # e.g. the user's build output, not the sample's
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (out / MARKER).write_text(json.dumps(["web", "build.yaml", "../outside.txt"]))
    assert _prepare(out) == {"quilt_1m"}
    assert not (out / "web").exists() and not (out / "build.yaml").exists()
    assert outside.read_text() == "keep me"  # marker names never reach outside the folder


# --- formats parse with the real libraries ----------------------------------------------------


def test_tweets_are_api_v2_responses(corpus: Path, port: int) -> None:
    lines = (corpus / "openpath/tweets.jsonl").read_text(encoding="utf-8").splitlines()
    responses, malformed = [], 0
    for line in lines:
        try:
            responses.append(json.loads(line))
        except json.JSONDecodeError:
            malformed += 1
    assert malformed == 1 and len(responses) >= 3

    tweets = {t["id"]: t for r in responses for t in r.get("data", [])}
    media = {m["media_key"]: m for r in responses for m in r.get("includes", {}).get("media", [])}
    users = {u["id"] for r in responses for u in r.get("includes", {}).get("users", [])}
    errors = [e for r in responses for e in r.get("errors", [])]
    requested = (corpus / "openpath/tweet_ids.txt").read_text().split()

    assert set(requested) == set(tweets) | {e["resource_id"] for e in errors}
    assert {e["title"] for e in errors} == {"Not Found Error", "Authorization Error"}
    assert all(e["value"] == e["resource_id"] and e["resource_type"] == "tweet" for e in errors)
    for tweet in tweets.values():
        assert tweet["author_id"] in users
        assert tweet["conversation_id"] in tweets  # every thread's root was hydrated
        for reference in tweet.get("referenced_tweets", []):
            assert reference["type"] == "replied_to" and reference["id"] in tweets
        for key in tweet.get("attachments", {}).get("media_keys", []):
            assert media[key]["type"] == "photo"
            assert media[key]["url"].startswith(f"http://127.0.0.1:{port}/media/")
        entities = tweet.get("entities", {})
        for tag in entities.get("hashtags", []):
            assert tweet["text"][tag["start"] : tag["end"]] == f"#{tag['tag']}"
        for url in entities.get("urls", []):
            assert tweet["text"][url["start"] : url["end"]] == url["url"]
        for mention in entities.get("mentions", []):
            assert tweet["text"][mention["start"] : mention["end"]] == f"@{mention['username']}"

    roots = [t for t in tweets.values() if t["id"] == t["conversation_id"]]
    replies = [t for t in tweets.values() if t["id"] != t["conversation_id"]]
    own = [t for t in replies if t["author_id"] == tweets[t["conversation_id"]]["author_id"]]
    assert len(roots) >= 12 and own and len(own) < len(replies)
    assert any("attachments" not in t for t in roots)  # a text-only thread
    assert any(len(t.get("attachments", {}).get("media_keys", [])) >= 3 for t in roots)
    assert any(not t["text"].isascii() for t in roots)  # an emoji before the entities
    # Some listed media were never written (the server answers 404 for them).
    missing = [
        m for m in media.values() if not (corpus / "web" / m["url"].split("/", 3)[3]).exists()
    ]
    assert len(missing) == 2
    # Threads straddle response lines, so a reader has to group by conversation_id.
    line_of = {t["id"]: n for n, r in enumerate(responses) for t in r.get("data", [])}
    assert any(line_of[t["id"]] != line_of[t["conversation_id"]] for t in replies)


def test_good_pubmed_packages_parse_with_defusedxml_and_resolve_graphics(corpus: Path) -> None:
    good = panels_checked = 0
    for package in sorted(corpus.glob("pubmed/*.tar.gz")):
        pmcid = package.name.removesuffix(".tar.gz")
        members = tar_members(package)
        assert all(name.startswith(f"{pmcid}/") for name in members)
        nxml = nxml_of(members)
        if b"<!ENTITY" in nxml:
            continue
        article = DET.fromstring(nxml)
        good += 1
        assert article.tag == "article"
        ids = article.findall("./front/article-meta/article-id[@pub-id-type='pmc']")
        assert ids and ids[0].text.removeprefix("PMC") == pmcid.removeprefix("PMC")
        license_ = article.find("./front/article-meta/permissions/license")
        href = license_.get(XLINK) or license_.findtext(
            "{http://www.niso.org/schemas/ali/1.0/}license_ref"
        )
        assert href.startswith("https://creativecommons.org/licenses/by")
        assert license_.find("license-p") is not None
        for fig in article.iter("fig"):
            assert fig.findtext("label").startswith("Figure ")
            caption = "".join(fig.find("caption").itertext())
            graphic = fig.find("graphic").get(XLINK)
            assert "." not in graphic.rsplit("/", 1)[-1]  # referenced without extension
            path = f"{pmcid}/{graphic}.jpg"
            if graphic.startswith(".."):
                assert path not in members
                continue
            if path not in members:  # the deliberately missing graphic
                continue
            panels = 4 if "(D)" in caption else 3 if ("(C)" in caption or "C," in caption) else 2
            if "(A)" in caption or "(a)" in caption or "A," in caption:
                panels_checked += _assert_gutters(members[path], panels)
    assert good == 7 and panels_checked >= 4


def _assert_gutters(data: bytes, panels: int) -> int:
    """The composite has white gutters exactly where its layout puts them; returns 1 if checked."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.int16)
    except OSError:
        return 0
    height, width = pixels.shape
    side = 256
    columns = (width + GUTTER) // (side + GUTTER)
    rows = (height + GUTTER) // (side + GUTTER)
    if columns * rows != panels:
        assert columns * rows == 2 and panels == 3  # the caption that names a panel too many
        return 1
    for k in range(1, columns):
        gutter = pixels[:, k * (side + GUTTER) - GUTTER + 2 : k * (side + GUTTER) - 2]
        assert gutter.min() > 200 and gutter.mean() > 245
    for k in range(1, rows):
        gutter = pixels[k * (side + GUTTER) - GUTTER + 2 : k * (side + GUTTER) - 2, :]
        assert gutter.min() > 200 and gutter.mean() > 245
    return 1


def test_hostile_pubmed_packages_are_rejected_by_defusedxml(corpus: Path) -> None:
    hostile = []
    for package in sorted(corpus.glob("pubmed/*.tar.gz")):
        nxml = nxml_of(tar_members(package))
        if b"<!ENTITY" in nxml:
            hostile.append(nxml)
            with pytest.raises(EntitiesForbidden):
                DET.fromstring(nxml)
    assert len(hostile) == 2
    assert any(b'SYSTEM "file:///etc/passwd"' in nxml and b"&xxe;" in nxml for nxml in hostile)
    assert any(b"<!ENTITY lol9" in nxml and b"&lol9;" in nxml for nxml in hostile)


def test_pubmed_bad_images_and_paths_are_there(corpus: Path) -> None:
    labels = {label["fault"]: label for label in read_labels(corpus) if label["subset"] == "pubmed"}
    package, member = labels["truncated_image"]["path"].split("::")
    with (
        Image.open(io.BytesIO(tar_members(corpus / package)[member])) as image,
        pytest.raises(OSError),
    ):
        image.load()
    package, _ = labels["unsafe_path"]["path"].split("::")
    assert b'xlink:href="../../' in nxml_of(tar_members(corpus / package))


def test_laion_metadata_is_parquet_with_the_agreed_columns(corpus: Path, port: int) -> None:
    table = pq.read_table(corpus / "laion/metadata.parquet")
    assert table.column_names == [
        "key",
        "url",
        "caption",
        "similarity",
        "width",
        "height",
        "license",
    ]
    assert str(table.schema.field("similarity").type) == "float"
    rows = table.to_pylist()
    assert len({row["key"] for row in rows}) == len(rows)
    assert all(row["url"].startswith(f"http://127.0.0.1:{port}/laion/") for row in rows)
    faults = json.loads((corpus / "web/_faults.json").read_text())
    paths = {row["url"].split(str(port), 1)[1] for row in rows}
    assert set(faults) <= paths and "/laion/gone.jpg" in paths
    assert not (corpus / "web/laion/gone.jpg").exists()
    bomb = (corpus / "web/laion/huge.png").read_bytes()
    assert bomb[12:16] == b"IHDR" and struct.unpack(">II", bomb[16:24]) == (30_000, 30_000)
    assert len(bomb) < 200_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))


def test_the_only_duplicates_are_the_intended_reposts(corpus: Path) -> None:
    # Accidental near-duplicates would make the dedup filter drop rows the labels count.
    import itertools

    import imagehash

    hashes = {}
    packages: dict[str, dict[str, bytes]] = {}
    for label in read_labels(corpus):
        if label["fault"]:
            continue
        if "::" in label["path"]:
            package, member = label["path"].split("::")
            data = packages.setdefault(package, tar_members(corpus / package))[member]
        else:
            data = (corpus / label["path"]).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            hashes[label["path"]] = imagehash.phash(image.convert("RGB"))
    near = {
        tuple(sorted((a, b)))
        for a, b in itertools.combinations(hashes, 2)
        if hashes[a] - hashes[b] <= 6  # build.yaml's phash_max_distance
    }
    reposts = sorted(a if a.startswith("web/laion/repost") else b for a, b in near)
    assert reposts == ["web/laion/repost-exact.jpg", "web/laion/repost-resized.jpg"]
    labels = {label["path"]: label for label in read_labels(corpus)}
    exact_pair = next(pair for pair in near if "web/laion/repost-exact.jpg" in pair)
    assert len({labels[path]["sha256_raw"] for path in exact_pair}) == 1
    resized_pair = next(pair for pair in near if "web/laion/repost-resized.jpg" in pair)
    assert len({labels[path]["sha256_raw"] for path in resized_pair}) == 2
    assert all(
        path.startswith(("web/media/", "web/laion/repost")) for pair in near for path in pair
    )


def test_sample_server_answers_the_corpus_urls_as_scripted(corpus: Path, port: int) -> None:
    import http.client
    import urllib.error
    import urllib.request

    from quilt_hf.synthetic.sample.server import serve_corpus

    rows = pq.read_table(corpus / "laion/metadata.parquet").to_pylist()
    outcomes: dict[str, str] = {}
    with serve_corpus(corpus):
        for row in rows:
            name = row["url"].rsplit("/", 1)[1]
            try:
                with urllib.request.urlopen(row["url"], timeout=1.0) as response:
                    body = response.read()
                    robots = response.headers.get("X-Robots-Tag", "")
                    kind = response.headers["Content-Type"]
                    outcomes[name] = "noai" if "noai" in robots else kind.split(";")[0]
                    if kind.startswith("image/") and "noai" not in robots:
                        label_path = corpus / "web" / "laion" / name
                        assert body == label_path.read_bytes()
            except urllib.error.HTTPError as error:
                outcomes[name] = f"http_{error.code}"
            except http.client.IncompleteRead:
                outcomes[name] = "truncated_transfer"
            except (TimeoutError, urllib.error.URLError):
                outcomes[name] = "timeout"
    assert outcomes["server-error.jpg"] == "http_500"
    assert outcomes["gone.jpg"] == "http_404"
    assert outcomes["slow.jpg"] == "timeout"
    assert outcomes["noai.jpg"] == "noai"
    assert outcomes["hotlink.jpg"] == "text/html"
    assert outcomes["cut-transfer.jpg"] == "truncated_transfer"
    assert outcomes["huge.png"] == "image/png"
    assert sum(value == "image/jpeg" for value in outcomes.values()) >= 40


def test_videos_extension_is_called_and_its_sources_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quilt_hf.synthetic.sample import corpus as corpus_module

    # Light stand-ins for the three parts: this test is about the orchestration only.
    monkeypatch.setattr(
        corpus_module, "write_sample_tweets", lambda writer, rng: ({"openpath": {}}, [])
    )
    monkeypatch.setattr(corpus_module, "write_sample_pubmed", lambda writer, rng: {"pubmed": {}})
    monkeypatch.setattr(
        corpus_module, "write_sample_web", lambda writer, rng, photos: {"laion": {}}
    )
    (tmp_path / "fake_sample_videos.py").write_text(
        "import numpy as np\n"
        "def write_sample_videos(out_dir, rng, base_url):\n"
        "    assert isinstance(rng, np.random.Generator)\n"
        "    (out_dir / 'youtube').mkdir()\n"
        "    (out_dir / 'youtube' / 'base_url.txt').write_text(base_url)\n"
        "    return {'quilt': {'videos': ['web/videos/*.mp4']}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(corpus_module, "VIDEOS_MODULE", "fake_sample_videos")

    summary = corpus_module.write_sample_corpus(tmp_path / "with", port=4321)
    config = yaml.safe_load((tmp_path / "with/build.yaml").read_text())
    assert list(config["sources"]) == ["openpath", "pubmed", "laion", "quilt"]
    assert config["sources"]["quilt"] == {"videos": ["web/videos/*.mp4"]}
    assert (tmp_path / "with/youtube/base_url.txt").read_text() == "http://127.0.0.1:4321"
    assert "youtube" in json.loads((tmp_path / "with/.quilt-sample").read_text())
    assert summary.videos == "written"

    summary = corpus_module.write_sample_corpus(tmp_path / "without", port=4321, videos=False)
    assert "quilt" not in yaml.safe_load((tmp_path / "without/build.yaml").read_text())["sources"]
    assert summary.videos.startswith("skipped")

    monkeypatch.setattr(corpus_module, "VIDEOS_MODULE", "no_such_videos_module_here")
    summary = corpus_module.write_sample_corpus(tmp_path / "missing", port=4321)
    assert summary.videos.startswith("not available")
