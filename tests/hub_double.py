"""A test double of the Hugging Face Hub's HTTP contract, served on 127.0.0.1.

Not a mock of our code: it implements the endpoints huggingface_hub 2.4 really calls (read from
``hf_api.py``, ``_commit_api.py``, ``lfs.py`` and ``file_download.py``) so the real client, and
``transformers``/``datasets`` on top of it, push and pull through it:

- ``GET  /api/whoami-v2``
- ``POST /api/repos/create`` (409 when the repo exists)
- ``POST /api/validate-yaml``
- ``POST /api/{type}s/{repo}/preupload/{rev}`` (regular vs LFS upload modes)
- ``POST /{prefix}{repo}.git/info/lfs/objects/batch`` + ``PUT /lfs-upload/{oid}`` (basic transfer)
- ``POST /api/{type}s/{repo}/commit/{rev}`` (NDJSON; ``create_pr=1`` opens ``refs/pr/N``)
- ``GET  /api/{type}s/{repo}[/revision/{rev}]`` (repo info with siblings)
- ``GET  /api/{type}s/{repo}/tree/{rev}[/{path}]``, ``POST .../paths-info/{rev}``
- ``HEAD|GET /{prefix}{repo}/resolve/{rev}/{path}`` with ``ETag``/``X-Repo-Commit``/``X-Linked-*``

Writes need ``Authorization: Bearer <token>``; private repos need it for reads too. Set
``fail_next[<path fragment>] = n`` to make the next n matching requests fail with HTTP 500, as
a network error mid-upload would. Xet is not implemented: run the client with
``HF_HUB_DISABLE_XET=1``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".parquet", ".png", ".jpg", ".arrow", ".npy")
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    refs: dict[str, str] = field(default_factory=dict)  # ref name -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> files
    lfs: dict[str, str] = field(default_factory=dict)  # path -> sha256 for LFS files
    messages: list[str] = field(default_factory=list)
    pull_requests: int = 0
    gated: str | bool = False


class HubState:
    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.fail_next: dict[str, int] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def new_commit(self, repo: Repo, ref: str, files: dict[str, bytes], message: str) -> str:
        sha = hashlib.sha1(f"{repo.repo_id}{ref}{len(repo.commits)}{message}".encode()).hexdigest()
        repo.commits[sha] = files
        repo.refs[ref] = sha
        repo.messages.append(message)
        return sha


class HubDouble:
    """Start with ``HubDouble(token).start()``; ``endpoint`` is its base url."""

    def __init__(self, token: str = "hf_test_double_token") -> None:
        self.state = HubState(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        handler.endpoint = self.endpoint
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HubDouble:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client_env(self, home: Path, token: str | None = None) -> dict[str, str]:
        """The environment of a command that talks to this double: its endpoint, online, with
        its own Hugging Face home (cache) under ``home`` and ``token`` (none: anonymous)."""
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
        env.update(
            HF_ENDPOINT=self.endpoint,
            HF_HUB_OFFLINE="0",
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HOME=str(home / "hf_home"),
            HF_DATASETS_CACHE=str(home / "ds_cache"),
        )
        if token:
            env["HF_TOKEN"] = token
        return env

    def files(self, repo_type: str, repo_id: str, ref: str = "main") -> dict[str, bytes]:
        repo = self.state.repos[(repo_type, repo_id)]
        return repo.commits[repo.refs[ref]]


class _Handler(BaseHTTPRequestHandler):
    state: HubState
    endpoint: str
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet server
        return

    # ---- plumbing -------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(
        self, status: int, message: str, code: str | None = None, head: bool = False
    ) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.state.token}"

    def _repo(self, repo_type: str, repo_id: str, head: bool = False) -> Repo | None:
        repo = self.state.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authorised()):
            self._error(404, f"Repository {repo_id} not found", "RepoNotFound", head=head)
            return None
        return repo

    def _writable_repo(self, repo_type: str, repo_id: str) -> Repo | None:
        """The repo a write goes to; None once a 401 or 404 has been sent."""
        if not self._authorised():
            self._error(401, "write access needs a token")
            return None
        return self._repo(repo_type[:-1], repo_id)

    def _revision(self, repo: Repo, revision: str, head: bool = False) -> str | None:
        revision = unquote(revision)
        if revision in repo.refs:
            return repo.refs[revision]
        if revision in repo.commits:
            return revision
        self._error(404, f"Invalid rev id: {revision}", "RevisionNotFound", head=head)
        return None

    def _should_fail(self, path: str) -> bool:
        with self.state.lock:
            for fragment, count in self.state.fail_next.items():
                if count > 0 and fragment in path:
                    self.state.fail_next[fragment] = count - 1
                    return True
        return False

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path = unquote(url.path) if "/resolve/" in url.path else url.path
        self.state.requests.append(f"{method} {url.path}")
        if self._should_fail(url.path):
            self._body()
            self._error(500, "injected failure (simulated network error)")
            return
        query = parse_qs(url.query)
        for pattern, handler in self.routes:
            match = re.fullmatch(pattern, path if "resolve" in pattern else url.path)
            if match and method in handler.__doc__.split():
                handler(self, method, query, **match.groupdict())
                return
        self._error(404, f"no route for {method} {url.path}")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    # ---- endpoints ------------------------------------------------------------------------
    def whoami(self, method: str, query: dict) -> None:
        """GET"""
        if not self._authorised():
            self._error(401, "Invalid credentials in Authorization header")
            return
        self._json(
            200,
            {
                "type": "user",
                "name": "tester",
                "orgs": [{"name": "org"}],
                "auth": {"type": "access_token", "accessToken": {"role": "write"}},
            },
        )

    def create_repo(self, method: str, query: dict) -> None:
        """POST"""
        payload = json.loads(self._body() or b"{}")
        if not self._authorised():
            self._error(401, "You must be authenticated to create a repo")
            return
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization'] or 'tester'}/{payload['name']}"
        url = f"{self.endpoint}/{PREFIX[repo_type]}{repo_id}"
        with self.state.lock:
            if (repo_type, repo_id) in self.state.repos:
                self._json(409, {"error": "You already created this repo", "url": url})
                return
            private = payload.get("visibility") == "private" or bool(payload.get("private"))
            repo = Repo(repo_type, repo_id, private)
            self.state.new_commit(
                repo, "main", {".gitattributes": b"*.safetensors filter=lfs\n"}, "initial commit"
            )
            self.state.repos[(repo_type, repo_id)] = repo
        self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def validate_yaml(self, method: str, query: dict) -> None:
        """POST"""
        content = json.loads(self._body())["content"]
        match = re.match(r"^---\n(.*?)\n---", content, re.S)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as error:
            self._json(400, {"error": f"Invalid YAML in README.md: {error}"})
            return
        if match and not isinstance(metadata, dict):
            self._json(400, {"error": "README.md metadata must be a YAML mapping"})
            return
        self._json(200, {"errors": [], "warnings": []})

    def preupload(self, method: str, query: dict, repo_type: str, repo_id: str, rev: str) -> None:
        """POST"""
        payload = json.loads(self._body())
        if (repo := self._writable_repo(repo_type, repo_id)) is None:
            return
        files = []
        for item in payload["files"]:
            lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] > 10_000_000
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": None,
                }
            )
        self._json(200, {"files": files, "commitOid": repo.refs.get("main")})

    def lfs_batch(self, method: str, query: dict, prefix: str, repo_id: str) -> None:
        """POST"""
        payload = json.loads(self._body())
        if not self._authorised():
            self._error(401, "write access needs a token")
            return
        objects = []
        for item in payload["objects"]:
            entry = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.state.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.endpoint}/lfs-upload/{item['oid']}"}}
            objects.append(entry)
        self._json(200, {"transfer": "basic", "objects": objects})

    def lfs_upload(self, method: str, query: dict, oid: str) -> None:
        """PUT"""
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            self._error(400, "sha256 mismatch")
            return
        self.state.lfs_objects[oid] = data
        self._send(200, b"")

    def commit(self, method: str, query: dict, repo_type: str, repo_id: str, rev: str) -> None:
        """POST"""
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if (repo := self._writable_repo(repo_type, repo_id)) is None:
            return
        if (parent := self._revision(repo, rev)) is None:
            return
        files = dict(repo.commits[parent])
        header = {}
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                header = value
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
                repo.lfs.pop(value["path"], None)
            elif key == "lfsFile":
                if value["oid"] not in self.state.lfs_objects:
                    self._error(422, f"LFS object {value['oid']} was never uploaded")
                    return
                files[value["path"]] = self.state.lfs_objects[value["oid"]]
                repo.lfs[value["path"]] = value["oid"]
            elif key in ("deletedFile", "deletedFolder"):
                files = {
                    p: d
                    for p, d in files.items()
                    if p != value["path"] and not p.startswith(value["path"].rstrip("/") + "/")
                }
        ref = unquote(rev)
        pr_url = None
        with self.state.lock:
            if query.get("create_pr") == ["1"]:
                repo.pull_requests += 1
                ref = f"refs/pr/{repo.pull_requests}"
                pr_url = f"{self.endpoint}/{PREFIX[repo.repo_type]}{repo_id}/discussions/{repo.pull_requests}"
            sha = self.state.new_commit(repo, ref, files, header.get("summary", ""))
        self._json(
            200,
            {
                "commitUrl": f"{self.endpoint}/{PREFIX[repo.repo_type]}{repo_id}/commit/{sha}",
                "commitOid": sha,
                "pullRequestUrl": pr_url,
                "success": True,
            },
        )

    def repo_info(
        self, method: str, query: dict, repo_type: str, repo_id: str, rev: str | None = None
    ) -> None:
        """GET"""
        if (repo := self._repo(repo_type[:-1], repo_id)) is None:
            return
        if (sha := self._revision(repo, rev or "main")) is None:
            return
        files = repo.commits[sha]
        info = {
            "id": repo_id,
            "_id": repo_id,
            "sha": sha,
            "private": repo.private,
            "disabled": False,
            "gated": repo.gated,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": p, "size": len(d)} for p, d in sorted(files.items())],
        }
        self._json(200, info)

    def _entry(self, repo: Repo, path: str, data: bytes) -> dict:
        entry = {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path}
        if path in repo.lfs:
            entry["lfs"] = {"oid": repo.lfs[path], "size": len(data), "pointerSize": 134}
        return entry

    def _listing(self, repo: Repo, sha: str, folder: str, recursive: bool) -> list[dict]:
        files = repo.commits[sha]
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries, folders = [], set()
        for path, data in sorted(files.items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if depth == 1 or recursive:
                    folders.add(prefix + "/".join(parts[:depth]))
            if len(parts) == 1 or recursive:
                entries.append(self._entry(repo, path, data))
        dirs = [
            {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
            for d in sorted(folders)
        ]
        return dirs + entries

    def tree(
        self, method: str, query: dict, repo_type: str, repo_id: str, rev: str, path: str = ""
    ) -> None:
        """GET"""
        if (repo := self._repo(repo_type[:-1], repo_id)) is None:
            return
        if (sha := self._revision(repo, rev)) is None:
            return
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        self._json(200, self._listing(repo, sha, unquote(path or ""), recursive))

    def paths_info(self, method: str, query: dict, repo_type: str, repo_id: str, rev: str) -> None:
        """POST"""
        body = self._body().decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = json.loads(body).get("paths", [])
        else:
            paths = parse_qs(body).get("paths", [])
        if (repo := self._repo(repo_type[:-1], repo_id)) is None:
            return
        if (sha := self._revision(repo, rev)) is None:
            return
        files = repo.commits[sha]
        out = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                out.append(self._entry(repo, path, files[path]))
            elif any(p.startswith(path + "/") for p in files):
                out.append(
                    {
                        "type": "directory",
                        "oid": hashlib.sha1(path.encode()).hexdigest(),
                        "size": 0,
                        "path": path,
                    }
                )
        self._json(200, out)

    def resolve(
        self, method: str, query: dict, prefix: str, repo_id: str, rev: str, path: str
    ) -> None:
        """GET HEAD"""
        head = method == "HEAD"
        repo_type = {"": "model", "datasets/": "dataset", "spaces/": "space"}[prefix or ""]
        if (repo := self._repo(repo_type, repo_id, head=head)) is None:
            return
        if (sha := self._revision(repo, rev, head=head)) is None:
            return
        files = repo.commits[sha]
        if path not in files:
            self._error(404, f"Entry not found: {path}", "EntryNotFound", head=head)
            return
        data = files[path]
        etag = repo.lfs.get(path) or git_blob_sha(data)
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if path in repo.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        byte_range = self.headers.get("Range")
        if byte_range and not head and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", byte_range)):
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._send(206, data[start : end + 1], headers, "application/octet-stream")
            return
        self._send(200, data, headers, "application/octet-stream", head=head)

    def create_branch(
        self, method: str, query: dict, repo_type: str, repo_id: str, branch: str
    ) -> None:
        """POST"""
        self._body()
        if (repo := self._writable_repo(repo_type, repo_id)) is None:
            return
        branch = unquote(branch)
        if branch in repo.refs:
            self._json(409, {"error": "Reference already exists"})
            return
        repo.refs[branch] = repo.refs["main"]
        self._json(200, {})

    def settings(self, method: str, query: dict, repo_type: str, repo_id: str) -> None:
        """PUT"""
        payload = json.loads(self._body())
        if (repo := self._writable_repo(repo_type, repo_id)) is None:
            return
        repo.gated = payload.get("gated", repo.gated)
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        self._json(200, {})

    _REPO = r"(?P<repo_id>[^/]+/[^/]+)"
    routes = [
        (r"/api/whoami-v2", whoami),
        (r"/api/repos/create", create_repo),
        (r"/api/validate-yaml", validate_yaml),
        (
            rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/preupload/(?P<rev>[^/]+)",
            preupload,
        ),
        (rf"/(?P<prefix>datasets/|spaces/)?{_REPO}\.git/info/lfs/objects/batch", lfs_batch),
        (r"/lfs-upload/(?P<oid>[0-9a-f]{64})", lfs_upload),
        (rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/commit/(?P<rev>[^/]+)", commit),
        (
            rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/branch/(?P<branch>[^/]+)",
            create_branch,
        ),
        (rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/settings", settings),
        (
            rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/paths-info/(?P<rev>[^/]+)",
            paths_info,
        ),
        (
            rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?",
            tree,
        ),
        (
            rf"/api/(?P<repo_type>models|datasets|spaces)/{_REPO}(?:/revision/(?P<rev>[^/]+))?",
            repo_info,
        ),
        (
            rf"/(?P<prefix>datasets/|spaces/)?{_REPO}/resolve/(?P<rev>refs/pr/\d+|[^/]+)/(?P<path>.+)",
            resolve,
        ),
    ]
