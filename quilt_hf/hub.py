"""Publish model and dataset folders to the Hugging Face Hub (or any ``HF_ENDPOINT``).

``push_folder`` creates the repository (private and/or gated on request), optionally a branch
(``revision``) or a pull request, and uploads the folder in one commit with ``upload_folder``
(``upload_large_folder`` for big datasets: resumable, many commits). A failed upload is retried
with backoff; when retries run out the error says so and a rerun finishes the upload (the Hub
de-duplicates unchanged LFS objects). The token is read from ``HF_TOKEN`` (or the saved login)
and is scrubbed from every message we raise or log.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from quilt_hf.errors import QuiltError

log = logging.getLogger(__name__)

REPO_TYPES = ("model", "dataset")
IGNORE_PATTERNS = [
    ".cache/**",
    "**/.cache/**",
    "*.tmp",
    "**/*.tmp",
    "**/*.lock",
    "_tokenizer_src/**",
]


@dataclass
class PushResult:
    repo_id: str
    repo_type: str
    url: str
    commit_url: str
    pr_url: str | None
    revision: str


def resolve_token(token: str | None = None) -> str:
    """The write token: explicit, ``HF_TOKEN``, or the saved login; a clear error when none."""
    from huggingface_hub import get_token

    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise QuiltError(
            "pushing needs a Hugging Face token with write access: set HF_TOKEN or run `hf auth login`"
        )
    return token


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "<redacted>") if token else text


def check_folder(folder: Path, repo_type: str) -> None:
    """Refuse folders that would publish something unusable."""
    if repo_type not in REPO_TYPES:
        raise QuiltError(f"repo type must be one of {REPO_TYPES}, got {repo_type!r}")
    if not folder.is_dir():
        raise QuiltError(f"{folder} is not a folder")
    if repo_type == "model":
        if not (folder / "config.json").is_file():
            raise QuiltError(f"{folder} has no config.json: not a saved transformers model")
        if not any(folder.glob("*.safetensors")):
            raise QuiltError(f"{folder} has no .safetensors weights (save with safe_serialization)")
        if not (folder / "README.md").is_file():
            raise QuiltError(
                f"{folder} has no model card (README.md): write one with `quilt card model {folder}`"
                " (the trainer writes it into OUTPUT_DIR/final)"
            )
    else:
        if not (folder / "README.md").is_file():
            raise QuiltError(f"{folder} has no README.md: the dataset card carries `configs:`")
        if not any(folder.glob("data/*.parquet")):
            raise QuiltError(f"{folder} has no data/*.parquet shards")
        if any(folder.glob("*.py")):
            raise QuiltError(f"{folder} holds a .py loading script; datasets 4+ refuses those")


def push_folder(
    folder: Path,
    repo_id: str,
    repo_type: str = "model",
    *,
    private: bool = False,
    gated: str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    exist_ok: bool = False,
    large: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> PushResult:
    """Create (or reuse) ``repo_id`` and upload ``folder`` to it."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    check_folder(folder, repo_type)
    if "/" not in repo_id:
        raise QuiltError(f"--repo-id must be ORG/NAME, got {repo_id!r}")
    token = resolve_token(token)
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
    except HfHubHTTPError as error:
        if error.response is not None and error.response.status_code == 409:
            raise QuiltError(
                f"{repo_type} repo {repo_id} already exists; pass --exist-ok to add a commit to it "
                "(or --create-pr to propose the change as a pull request)"
            ) from None
        raise QuiltError(f"cannot create {repo_id}: {redact(str(error), token)}") from None
    if gated:
        _call(lambda: api.update_repo_settings(repo_id, repo_type=repo_type, gated=gated), token)
    if revision and revision != "main" and not create_pr:
        _call(
            lambda: api.create_branch(repo_id, repo_type=repo_type, branch=revision, exist_ok=True),
            token,
        )
    message = commit_message or f"Upload {repo_type} with quilt-hf"
    if large:
        if create_pr:
            raise QuiltError("--large uploads commit directly; they cannot open a pull request")
        _retrying(
            lambda: api.upload_large_folder(
                repo_id=repo_id,
                folder_path=folder,
                repo_type=repo_type,
                revision=revision,
                private=private,
                ignore_patterns=IGNORE_PATTERNS,
            ),
            token,
            retries,
            backoff_s,
            repo_id,
        )
        info = api.repo_info(repo_id, repo_type=repo_type, revision=revision)
        commit_url, pr_url = f"{url}/commit/{info.sha}", None
    else:
        commit = _retrying(
            lambda: api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                repo_type=repo_type,
                revision=revision,
                create_pr=create_pr,
                commit_message=message,
                ignore_patterns=IGNORE_PATTERNS,
            ),
            token,
            retries,
            backoff_s,
            repo_id,
        )
        commit_url, pr_url = commit.commit_url, commit.pr_url
    log.info("pushed %s to %s (%s)", folder, repo_id, commit_url)
    return PushResult(repo_id, repo_type, str(url), commit_url, pr_url, revision or "main")


def _call(action, token: str):
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return action()
    except HfHubHTTPError as error:
        raise QuiltError(redact(str(error), token)) from None


def _retrying(action, token: str, retries: int, backoff_s: float, repo_id: str):
    """Run an upload, retrying transient failures; a clear error when they persist."""
    from huggingface_hub.errors import HfHubHTTPError

    try:  # huggingface_hub 2.x talks through httpx2; its transport errors are not OSErrors
        from httpx2 import HTTPError as TransportError
    except ImportError:  # pragma: no cover - older clients
        TransportError = OSError  # noqa: N806
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            return action()
        except (HfHubHTTPError, TransportError, OSError) as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            if status is not None and 400 <= status < 500 and status != 429:
                raise QuiltError(
                    f"upload to {repo_id} refused: {redact(str(error), token)}"
                ) from None
            last = error
            log.warning(
                "upload attempt %d/%d failed: %s", attempt, retries, redact(str(error), token)
            )
            if attempt < retries:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    raise QuiltError(
        f"upload to {repo_id} failed after {retries} attempts ({redact(str(last), token)}); nothing "
        "was committed by the failed attempts - rerun the same command to finish the upload"
    )
