"""The model cache on disk: where things are, and whether a snapshot is complete (no network).

huggingface_hub's own layout under ``MODEL_CACHE_PATH/hub``, plus our completion record::

    hub/models--ORG--NAME/blobs/...                       file contents (symlink targets)
    hub/models--ORG--NAME/snapshots/<commit>/...          the repo's files, as symlinks or plain copies
    hub/models--ORG--NAME/refs/<branch or tag>            the commit a branch/tag was resolved to
    hub/models--ORG--NAME/gnosis-complete/<commit>.json   ours: the completion record

The record is written only after every file's content was verified against the hub's listing
(``common.model_download``); the check here, on every cold start, is the cheap one: the record
exists and every file it lists is present at its full size.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

COMPLETE_DIR = "gnosis-complete"
# Who we are in hub requests (User-Agent), lock objects and completion records: lets the hub's
# logs and tests tell instances apart; unique even if pids repeat.
INSTANCE_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass
class SnapshotCheck:
    """Whether the snapshot of one commit is complete, and if not, what is wrong, in plain words."""

    commit: str
    path: Path
    complete: bool
    missing: list[str] = field(default_factory=list)  # listed files that are absent (or dangling links)
    damaged: list[str] = field(default_factory=list)  # present, but not at their full size
    reason: str = ""


def repo_folder(hub_cache: str | os.PathLike, model_id: str) -> Path:
    return Path(hub_cache) / ("models--" + model_id.replace("/", "--"))


def is_commit_hash(revision: str) -> bool:
    return bool(_COMMIT.fullmatch(revision))


def local_commit(hub_cache: str | os.PathLike, model_id: str, revision: str) -> str | None:
    """The commit ``revision`` stands for, from the cache alone (None if the cache cannot tell)."""
    if is_commit_hash(revision):
        return revision
    try:
        commit = (repo_folder(hub_cache, model_id) / "refs" / revision).read_text().strip()
    except OSError:
        return None
    return commit if is_commit_hash(commit) else None


def record_path(hub_cache, model_id: str, commit: str) -> Path:
    return repo_folder(hub_cache, model_id) / COMPLETE_DIR / f"{commit}.json"


def check_files(snapshot: Path, sizes: dict[str, int]) -> tuple[list[str], list[str]]:
    """(missing, not at full size) among ``sizes``' files in ``snapshot``."""
    missing, damaged = [], []
    for name, size in sizes.items():
        path = snapshot / name
        try:
            actual = path.stat().st_size  # follows the symlink: a deleted blob reads as missing
        except OSError:
            missing.append(name)
            continue
        if actual != size:
            damaged.append(name)
    return missing, damaged


def check_snapshot(hub_cache: str | os.PathLike, model_id: str, commit: str) -> SnapshotCheck:
    """Complete = the completion record exists and every file it lists is present at its full size."""
    snapshot = repo_folder(hub_cache, model_id) / "snapshots" / commit
    try:
        record = json.loads(record_path(hub_cache, model_id, commit).read_text())
        sizes = {str(k): int(v) for k, v in record["files"].items()}
    except FileNotFoundError:
        reason = "no completion record (never downloaded here, a download did not finish, or a load failed)"
        return SnapshotCheck(commit, snapshot, False, reason=reason)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return SnapshotCheck(commit, snapshot, False, reason=f"unreadable completion record ({exc})")
    missing, damaged = check_files(snapshot, sizes)
    if missing or damaged:
        reason = "; ".join(filter(None, [
            f"{len(missing)} file(s) missing: {', '.join(missing[:5])}" if missing else "",
            f"{len(damaged)} file(s) not at full size: {', '.join(damaged[:5])}" if damaged else "",
        ]))
        return SnapshotCheck(commit, snapshot, False, missing, damaged, reason)
    return SnapshotCheck(commit, snapshot, True)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{INSTANCE_ID}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
