"""Objects in a GCS bucket or files in a local folder, behind one small interface.

The on-upload function writes its results through an ``ObjectStore``; the command line's
``--out DIR`` writes the same layout through ``LocalStore``. ``if_absent`` writes are GCS
preconditions (``if_generation_match=0``) on GCS and exclusive creates locally: they are how
claims and completion markers stay correct when two deliveries race.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.errors import BadRequest, ObjectNotFound, TooLarge, UnreadableDocument


@dataclass(frozen=True)
class StoredObject:
    name: str
    data: bytes
    metadata: dict[str, str]
    generation: int | None = None


class ObjectStore(Protocol):
    location: str  # gs://bucket or a folder path, for messages

    def read(self, name: str, max_bytes: int | None = None, generation: int | None = None) -> StoredObject:
        """The object (that generation of it, if given), or ObjectNotFound; TooLarge past
        max_bytes, which holds on the bytes that reach memory: checked on the stored size before
        downloading, and again on the bytes as they arrive and as they are inflated."""
        ...

    def write(
        self, name: str, data: bytes, content_type: str, *,
        metadata: dict[str, str] | None = None, if_absent: bool = False, if_generation: int | None = None,
    ) -> bool:
        """Write the object and say whether it did. With if_absent, only if none exists; with
        if_generation, only if the current object is still that generation (compare-and-swap)."""
        ...

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def children(self, prefix: str) -> dict[str, dict[str, str]]:
        """Objects directly under ``prefix`` (which ends with '/'), not in deeper "folders":
        name -> metadata. Job code lists only through this, so a user's object name that reaches
        below a job's folder (``a.pdf/<G>/pages/x.pdf``) never shows up as one of its pages."""
        ...

    def delete(self, name: str) -> None: ...


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """'gs://bucket/path/to/object' -> ('bucket', 'path/to/object'); BadRequest otherwise."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise BadRequest("gcs_uri must look like gs://bucket/object")
    bucket, _, name = uri[len("gs://"):].partition("/")
    if not bucket or not name:
        raise BadRequest("gcs_uri must name a bucket and an object: gs://bucket/object")
    return bucket, name


def gcs_client():
    """One client per process (per STORAGE_EMULATOR_HOST: tests and the local loop use an emulator)."""
    return _client_for(os.environ.get("STORAGE_EMULATOR_HOST"))


@functools.lru_cache(maxsize=4)
def _client_for(emulator_host: str | None):
    from google.cloud import storage

    return storage.Client()


class GcsStore:
    """A bucket through google-cloud-storage.

    Every call retries transient faults (429, 5xx, dropped connections, timeouts) with ``retry``
    (default: the library's ``DEFAULT_RETRY``, 1 s initial backoff, 120 s deadline); when that is
    spent the error propagates, so the on-upload function raises and the platform retries the
    event. Retrying every write is safe for this project because every write is idempotent for
    us: the same bytes to the same name (``document.md``), or guarded by a precondition
    (pages, claims, ``result.json``), where a retry whose first attempt did land gets a 412,
    which ``write`` reports as "not written" and the callers handle (see PageClaims.acquire).
    We pass the policy explicitly instead of relying on the library's per-call defaults, which
    have changed between releases (2.x did not retry uploads without a precondition).
    """

    def __init__(self, bucket: str, client=None, retry=None):
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.bucket_name = bucket
        self.location = f"gs://{bucket}"
        self._client = client or gcs_client()
        self._bucket = self._client.bucket(bucket)
        # A google.api_core Retry; tests pass one with a short backoff and deadline.
        self.retry = retry or DEFAULT_RETRY

    def read(self, name: str, max_bytes: int | None = None, generation: int | None = None) -> StoredObject:
        from google.api_core.exceptions import NotFound

        where = f"{self.location}/{name}"
        blob = self._bucket.get_blob(name, generation=generation, retry=self.retry)
        if blob is None:
            raise ObjectNotFound(f"{where} does not exist")
        if max_bytes is not None and (blob.size or 0) > max_bytes:
            raise TooLarge(f"{where} is {blob.size} bytes; the limit is {max_bytes} (MAX_UPLOAD_BYTES)")
        sink = _CappedBuffer(max_bytes, where)
        try:
            # Pin the generation we measured, so a concurrent overwrite cannot slip past the size
            # check. A fresh blob (no mediaLink) puts ``generation=`` in the download URL itself:
            # the mediaLink of a metadata response only carries it on real GCS, not on emulators.
            # raw_download: the stored bytes as they are. Without it the client inflates an object
            # stored with Content-Encoding: gzip (gsutil cp -Z) with no bound at all; we inflate
            # it ourselves, up to the limit.
            pinned = self._bucket.blob(name, generation=blob.generation)
            pinned.download_to_file(sink, raw_download=True, if_generation_match=blob.generation, retry=self.retry)
        except NotFound:
            raise ObjectNotFound(f"{where} does not exist") from None
        data = sink.getvalue()
        if (blob.content_encoding or "").strip().lower() == "gzip":
            data = gunzip_bounded(data, max_bytes, where)
        return StoredObject(name, data, dict(blob.metadata or {}), blob.generation)

    def write(self, name, data, content_type, *, metadata=None, if_absent=False, if_generation=None) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(name)
        if metadata:
            blob.metadata = metadata
        try:
            blob.upload_from_string(
                data, content_type=content_type, if_generation_match=0 if if_absent else if_generation,
                retry=self.retry,
            )
        except PreconditionFailed:
            return False
        return True

    def exists(self, name: str) -> bool:
        return self._bucket.blob(name).exists(retry=self.retry)

    def list(self, prefix: str) -> list[str]:
        return [blob.name for blob in self._bucket.list_blobs(prefix=prefix, retry=self.retry)]

    def children(self, prefix: str) -> dict[str, dict[str, str]]:
        blobs = self._bucket.list_blobs(prefix=prefix, delimiter="/", retry=self.retry)
        return {blob.name: dict(blob.metadata or {}) for blob in blobs}

    def delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            # A retried delete whose first attempt landed gets a 404: the object is gone either way.
            self._bucket.blob(name).delete(retry=self.retry)
        except NotFound:
            pass


class _CappedBuffer(io.BytesIO):
    """A download target that refuses to grow past ``limit`` bytes (None: no limit)."""

    def __init__(self, limit: int | None, where: str):
        super().__init__()
        self.limit, self.where = limit, where

    def write(self, chunk) -> int:
        if self.limit is not None and self.tell() + len(chunk) > self.limit:
            raise TooLarge(f"{self.where} is over the limit of {self.limit} bytes (MAX_UPLOAD_BYTES)")
        return super().write(chunk)


def gunzip_bounded(data: bytes, limit: int | None, where: str) -> bytes:
    """Inflate gzip ``data`` (every member, as ``gzip`` does) to at most ``limit`` bytes, else TooLarge.

    zlib stops at ``max_length``, so a small object that inflates to gigabytes costs ``limit`` bytes.
    """
    out = bytearray()
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
            room = 0 if limit is None else limit + 1 - len(out)  # 0 means unlimited to zlib; room is >= 1 here
            out += inflater.decompress(rest, room)
            if limit is not None and len(out) > limit:
                raise TooLarge(f"{where} inflates to more than the limit of {limit} bytes (MAX_UPLOAD_BYTES)")
            if not inflater.eof:
                raise UnreadableDocument(f"{where} is stored with Content-Encoding: gzip but its gzip data is cut short")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise UnreadableDocument(f"{where} is stored with Content-Encoding: gzip but is not valid gzip ({exc})") from None
    return bytes(out)


_LOCAL_CAS_LOCK = threading.Lock()


class LocalStore:
    """The same interface over a folder; metadata is kept beside each file as NAME.meta."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise BadRequest(f"object name {name!r} leaves the folder {self.root}")
        return path

    def read(self, name: str, max_bytes: int | None = None, generation: int | None = None) -> StoredObject:
        path = self._path(name)
        if not path.is_file() or (generation is not None and path.stat().st_mtime_ns != generation):
            raise ObjectNotFound(f"{path} does not exist")
        with open(path, "rb") as handle:
            # Read at most one byte past the limit: the file may have grown since any stat().
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise TooLarge(f"{path} is over the limit of {max_bytes} bytes (MAX_UPLOAD_BYTES)")
        meta_path = path.with_name(path.name + ".meta")
        metadata = {}
        if meta_path.is_file():
            import json

            metadata = json.loads(meta_path.read_text())
        # A file's mtime stands in for the GCS generation.
        return StoredObject(name, data, metadata, path.stat().st_mtime_ns)

    def write(self, name, data, content_type, *, metadata=None, if_absent=False, if_generation=None) -> bool:
        import json

        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if if_generation is not None and not if_absent:
            # Compare-and-swap within this process only: a folder has no cross-process equivalent
            # of a GCS precondition without a lock file; the on-upload function runs on GCS.
            with _LOCAL_CAS_LOCK:
                try:
                    if path.stat().st_mtime_ns != if_generation:
                        return False
                except FileNotFoundError:
                    return False
                return self.write(name, data, content_type, metadata=metadata)
        if if_absent:
            try:
                with open(path, "xb") as handle:
                    handle.write(data)
            except FileExistsError:
                return False
        else:
            # Write then rename: a reader never sees half a file.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, path)
        if metadata:
            path.with_name(path.name + ".meta").write_text(json.dumps(metadata))
        return True

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str) -> list[str]:
        names = []
        for path in self.root.rglob("*"):
            name = path.relative_to(self.root).as_posix()
            if path.is_file() and not name.endswith(".meta") and name.startswith(prefix):
                names.append(name)
        return sorted(names)

    def children(self, prefix: str) -> dict[str, dict[str, str]]:
        import json

        folder = self.root / prefix
        if not prefix.endswith("/") or not folder.is_dir():
            return {}
        found = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.endswith(".meta"):
                meta = path.with_name(path.name + ".meta")
                found[prefix + path.name] = json.loads(meta.read_text()) if meta.is_file() else {}
        return found

    def delete(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".meta").unlink(missing_ok=True)
