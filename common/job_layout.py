"""Where a job's files live, and the only way job code finds them.

A job is one document at one generation. Its folder (the "prefix") holds everything about it:

    <prefix>/job.json        the job record: source, page plan, chunks, options (written once)
    <prefix>/status.json     the status as of the last chunk (status, pages done / total), for readers
    <prefix>/enqueued        chunk tasks were created (a redelivered event creates none again)
    <prefix>/pages/0001.md   one per page, written once (if_generation_match=0); errors in metadata
    <prefix>/claims/0001     transient per-page claims, refreshed by a heartbeat while held
    <prefix>/document.md     all pages in order (completion)
    <prefix>/result.json     written last, once: its presence means the job ended
    <prefix>/callback.json   the callback's delivery record (jobs with a callback_url)
    <prefix>/source          the document itself, for POST /jobs bodies (raw or multipart)

Two kinds of prefix:

- an upload ``gs://UPLOADS/<name>`` at generation G: ``<RESULTS_PREFIX>/<name>/<G>`` (the layout
  users already read; G is all digits);
- an HTTP job: ``<RESULTS_PREFIX>/jobs/<job_id>`` where the id is 32 random hex digits, so it is
  opaque, cannot be guessed, and maps to exactly one folder (never a client-chosen path).

Object names are chosen by users, and a name like ``report.pdf/<G>/pages/x.pdf`` puts that
document's own results *inside* ``report.pdf``'s ``pages/`` folder. So job code never lists
recursively: it lists one level with a delimiter (``ObjectStore.children``) and accepts only the
names it writes itself (``NNNN.md`` pages, ``NNNN`` claims). Anything deeper belongs to someone
else and is neither read nor deleted.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from common.config import Settings
from common.results import page_name  # noqa: F401  (one definition of a page's name)
from common.storage import ObjectStore

JOB = "job.json"
STATUS = "status.json"
ENQUEUED = "enqueued"
DOCUMENT = "document.md"
RESULT = "result.json"
CALLBACK = "callback.json"
SOURCE = "source"

_PAGE = re.compile(r"(\d{4,})\.md")
_CLAIM = re.compile(r"(\d{4,})")
_JOB_ID = re.compile(r"[0-9a-f]{32}")

# GCS object names are at most 1024 bytes; the longest name we add under a prefix is /pages/NNNN.md.
_MAX_OBJECT_NAME_BYTES = 1024
_LONGEST_SUFFIX_BYTES = len("/pages/0000.md")


def results_prefix(settings: Settings, name: str, generation: int | str) -> str:
    """``<RESULTS_PREFIX>/<object name>/<generation>``: where one upload's job lives.

    An object name too long to fit (GCS names stop at 1024 bytes) is cut and given a hash of the
    whole name, so two long names never share results; result.json keeps the full name.
    """
    def join(object_part: str) -> str:
        return "/".join(part for part in (settings.results_prefix, object_part, str(generation)) if part)

    prefix = join(name)
    overflow = len(prefix.encode()) + _LONGEST_SUFFIX_BYTES - _MAX_OBJECT_NAME_BYTES
    if overflow <= 0:
        return prefix
    digest = "~" + hashlib.sha256(name.encode()).hexdigest()[:16]
    keep = name.encode()[: max(0, len(name.encode()) - overflow - len(digest))].decode("utf-8", "ignore")
    return join(keep + digest)


def new_job_id() -> str:
    return secrets.token_hex(16)


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.fullmatch(value or ""))


def http_job_prefix(settings: Settings, job_id: str) -> str:
    """The folder of an HTTP job; ValueError for anything that is not a job id."""
    if not is_job_id(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    return "/".join(part for part in (settings.results_prefix, "jobs", job_id) if part)


def claim_name(prefix: str, number: int) -> str:
    return f"{prefix}/claims/{number:04d}"


def pages_present(store: ObjectStore, prefix: str) -> dict[int, dict[str, str]]:
    """Page number -> page metadata, for the pages this job has written."""
    return _numbered(store.children(f"{prefix}/pages/"), _PAGE)


def claims_present(store: ObjectStore, prefix: str) -> list[int]:
    return sorted(_numbered(store.children(f"{prefix}/claims/"), _CLAIM))


def drop_claims(store: ObjectStore, prefix: str) -> None:
    """Delete leftover claims of this job (and only of this job)."""
    for number in claims_present(store, prefix):
        store.delete(claim_name(prefix, number))


def _numbered(children: dict[str, dict[str, str]], pattern: re.Pattern) -> dict[int, dict[str, str]]:
    found = {}
    for name, metadata in children.items():
        match = pattern.fullmatch(name.rsplit("/", 1)[1])
        if match:
            found[int(match.group(1))] = metadata
    return found
