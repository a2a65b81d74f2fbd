"""Shared pieces of the on-upload tests: documents made on the spot, events, a counting engine."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import Counter
from datetime import datetime, timezone

from PIL import Image, ImageDraw, ImageFont

from tests.pages import FONT_FILE  # noqa: E402  (the font the tests ship)

FONT = str(FONT_FILE)
# One distinctive phrase per page; the lite engine reads them back.
PAGE_WORDS = ["Alpha Bravo Charlie", "Delta Echo Foxtrot", "Golf Hotel India"]
# Small renders keep the lite engine near a second per page on two cores.
TEST_ENV = {"RENDER_LONG_EDGE": "1000", "OCR_ENGINE": "lite", "LOG_FORMAT": "json", "LITE_THREADS": "2"}


def page_image(words: str) -> Image.Image:
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    draw.text((80, 200), words, font=ImageFont.truetype(FONT, 64), fill="black")
    return image


def make_pdf(pages: int = 3) -> bytes:
    images = [page_image(words) for words in PAGE_WORDS[:pages]]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def make_png(words: str = "Kilo Lima Mike") -> bytes:
    out = io.BytesIO()
    page_image(words).save(out, "PNG")
    return out.getvalue()


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def make_encrypted_pdf(user_password: bytes = b"secret") -> bytes:
    """A one-page PDF under the standard security handler (RC4-40, revision 2) with a user
    password, built by hand: no PDF library here can encrypt."""
    pad = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
    padded = (user_password + pad)[:32]
    owner = _rc4(hashlib.md5(padded).digest()[:5], padded)
    file_id = hashlib.md5(b"gnosis").digest()
    permissions = -4
    key = hashlib.md5(padded + owner + permissions.to_bytes(4, "little", signed=True) + file_id).digest()[:5]
    user = _rc4(key, pad)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + owner.hex().encode() + b"> /U <" + user.hex().encode()
        + b"> /P " + str(permissions).encode() + b" >>",
    ]
    body, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        body += b"%010d 00000 n \n" % offset
    body += (b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
             % (len(objects) + 1, file_id.hex().encode(), file_id.hex().encode(), xref))
    return bytes(body)


class CountingEngine:
    """Delegates to a real engine and counts pages by the phrase each one carries."""

    def __init__(self, inner, delay: float = 0.0):
        self.inner, self.delay = inner, delay
        self.name, self.model, self.revision, self.batch_size = inner.name, inner.model, inner.revision, inner.batch_size
        self.pages: Counter = Counter()
        self._lock = threading.Lock()

    def load(self, wait_seconds: float | None = None) -> dict:
        # The engines' own signature: pipeline.load_engine passes the model wait when it has one.
        return self.inner.load() if wait_seconds is None else self.inner.load(wait_seconds=wait_seconds)

    def ocr_pages(self, images):
        results = self.inner.ocr_pages(images)
        time.sleep(self.delay)
        with self._lock:
            for result in results:
                self.pages[phrase_of(result.text)] += 1
        return results

    @property
    def total(self) -> int:
        return sum(self.pages.values())


def phrase_of(text: str) -> str:
    lowered = text.lower()
    for words in PAGE_WORDS + ["Kilo Lima Mike"]:
        if words.lower() in lowered:
            return words
    return text.strip()


def upload(bucket, name: str, data: bytes, content_type: str | None = None):
    blob = bucket.blob(name)
    blob.upload_from_string(data, content_type=content_type)
    blob.reload()
    return blob


def object_data(blob, **overrides) -> dict:
    """The storage object resource, as Eventarc puts it in a finalized event's data."""
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    data = {
        "kind": "storage#object",
        "bucket": blob.bucket.name,
        "name": blob.name,
        "generation": str(blob.generation),
        "metageneration": "1",
        "size": str(blob.size),
        "contentType": blob.content_type,
        "timeCreated": now,
        "updated": now,
    }
    data.update(overrides)
    return data


def finalized_event(blob, *, time_: str | None = None, type_: str = "google.cloud.storage.object.v1.finalized",
                    event_id: str | None = None, **overrides):
    from cloudevents.http import CloudEvent

    attributes = {
        "type": type_,
        "source": f"//storage.googleapis.com/projects/_/buckets/{blob.bucket.name}",
        "subject": f"objects/{blob.name}",
        "id": event_id or f"{blob.name}-{blob.generation}",
        "time": time_ or datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    return CloudEvent(attributes, object_data(blob, **overrides))


def post_event(client_or_url, event, mode: str = "structured", session=None):
    """POST a CloudEvent (structured or binary) to a Flask test client or a URL; returns the status."""
    from cloudevents.conversion import to_binary, to_structured

    headers, body = (to_structured if mode == "structured" else to_binary)(event)
    if isinstance(client_or_url, str):
        import requests

        response = (session or requests).post(client_or_url, data=body, headers=headers, timeout=300)
        return response.status_code
    return client_or_url.post("/", data=body, headers=headers).status_code


def list_names(bucket, prefix: str = "") -> list[str]:
    return sorted(blob.name for blob in bucket.client.list_blobs(bucket.name, prefix=prefix))


def read_json(bucket, name: str) -> dict:
    return json.loads(bucket.blob(name).download_as_bytes())


# --- fixtures (import them into a test module by name) ------------------------------------------

import os  # noqa: E402

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The one line to change once main.py's imports all exist: load main.py instead.
FUNCTION_SOURCE = os.path.join(REPO, "main.py")


@pytest.fixture
def upload_env(monkeypatch):
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("RESULTS_BUCKET", "RESULTS_PREFIX", "MAX_PAGES", "MAX_UPLOAD_BYTES", "CLAIM_TTL_SECONDS",
                "CLAIM_WAIT_SECONDS", "MAX_EVENT_AGE_SECONDS"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def counting(upload_env, monkeypatch):
    """The process-wide lite engine, wrapped so each page's OCR is counted; the handler gets it
    through get_engine's per-process cache, as in production."""
    import common.engines
    from common.config import Settings

    real = common.engines.get_engine(Settings.from_env(), "lite")
    real = getattr(real, "inner", real)
    engine = CountingEngine(real)
    monkeypatch.setitem(common.engines._engines, "lite", engine)
    return engine


@pytest.fixture(scope="module")
def function_client():
    """ocr_on_upload loaded by functions-framework itself, driven in process."""
    import functions_framework

    app = functions_framework.create_app("ocr_on_upload", FUNCTION_SOURCE, "cloudevent")
    return app.test_client()
