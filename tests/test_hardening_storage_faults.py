"""Storage faults: fake-gcs-server behind a fault-injecting proxy.

- A batch of documents goes through the real handler while 20% of storage requests fail (503, 429,
  a dropped connection, or a reply lost after the write landed): every document completes, with
  correct results. Short: 4 documents; full (slow): 20.
- A reply lost after a conditional write landed (claim, page, result.json): the retry meets our own
  object (412) and the delivery still finishes at once.
- Storage gone (the proxy drops everything from request k on, or the emulator is stopped): the
  delivery raises, so the platform retries, and leaves nothing that claims success falsely; once
  storage is back, the redelivery completes. Short: a cut before the first request of each kind
  (and before the last request); full (slow): a cut before every request of a delivery.
"""

from __future__ import annotations

import re
from urllib.parse import unquote
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import functions_framework
import pytest

from common.config import Settings
from common.storage import GcsStore
from common.upload_job import process_object
from tests.fault_proxy import FaultProxy
from tests.gcs_emulator import GcsEmulator
from tests.hardening_helpers import (
    PHRASES, check_no_false_success, check_result_set, client_for, deliver_until_acknowledged, fast_retry,
    make_pdf_of, transient_storage_errors,
)
from tests.upload_helpers import FUNCTION_SOURCE, counting, finalized_event, upload, upload_env  # noqa: F401

FAULT_MODES = ("503", "429", "drop", "lost")
TRANSIENT = transient_storage_errors()


@pytest.fixture
def proxy(gcs_emulator):
    proxy = FaultProxy(gcs_emulator.url, fail_fraction=0.0, seed=20240805, modes=FAULT_MODES).start()
    yield proxy
    proxy.stop()


def _words(i: int) -> list[str]:
    # One or two pages, in an order that differs between neighbours, so a mixed-up page shows.
    pages = 1 + i % 2
    return [PHRASES[(i + k) % len(PHRASES)] for k in range(pages)]


@pytest.mark.parametrize("documents", [4, pytest.param(20, marks=pytest.mark.slow)])
def test_batch_completes_through_storage_faults(gcs_bucket, proxy, counting, monkeypatch, documents):
    """The handler as deployed (production retry policy), its storage client pointed at the proxy."""
    blobs = [upload(gcs_bucket, f"batch/doc{i:02d}.pdf", make_pdf_of(_words(i)), "application/pdf")
             for i in range(documents)]
    # common.storage.gcs_client() keeps one client per STORAGE_EMULATOR_HOST value: a new one for the proxy.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    proxy.fail_fraction = 0.2
    local = threading.local()

    def deliver(blob):
        if not hasattr(local, "client"):
            local.client = functions_framework.create_app("ocr_on_upload", FUNCTION_SOURCE, "cloudevent").test_client()
        return deliver_until_acknowledged(local.client, finalized_event(blob))

    with ThreadPoolExecutor(4) as pool:
        deliveries = list(pool.map(deliver, blobs))
    proxy.fail_fraction = 0.0

    for i, blob in enumerate(blobs):
        check_result_set(gcs_bucket, f"ocr-results/{blob.name}/{blob.generation}", _words(i))
    pages = sum(len(_words(i)) for i in range(documents))
    redeliveries = sum(deliveries) - documents
    # A page is OCR'd again only when a delivery raised after OCR'ing it and before its write landed.
    assert counting.total == pages if redeliveries == 0 else pages <= counting.total
    print(f"\nFIGURES storage-faults batch: documents={documents} pages={pages} "
          f"requests={proxy.forwarded + proxy.faults} faults={proxy.injected} redeliveries={redeliveries} "
          f"pages_ocrd={counting.total} results_lost=0")


def _upload_name(body: bytes) -> str | None:
    """The object name of a multipart upload request (its JSON part), else None."""
    match = re.search(rb'"name"\s*:\s*"([^"]+)"', body)
    return match.group(1).decode() if match else None


def _short(name: str) -> str:
    """'ocr-results/x.pdf/G/claims/0001' -> 'claims/0001'; '.../result.json' -> 'result.json'."""
    return re.sub(r"^.*?/((claims|pages)/)?([^/]+)$", r"\1\3", name)


def test_lost_replies_to_conditional_writes(gcs_bucket, proxy, counting, monkeypatch, caplog):
    """Each conditional write lands but its reply is lost: the client retries and meets its own
    object (412). The claim is still ours (no wait for CLAIM_TTL_SECONDS), the page is not redone,
    the log says the page is ours (not "written by another worker"), and the delivery finishes in
    one go."""
    import logging

    caplog.set_level(logging.INFO, logger="gnosis.jobs")
    monkeypatch.setenv("CLAIM_WAIT_SECONDS", "3")
    words = PHRASES[:2]
    blob = upload(gcs_bucket, "lost.pdf", make_pdf_of(words), "application/pdf")
    targets = {"claims/0001", "pages/0001.md", "result.json"}
    lost = []

    def before(method, path, body):
        name = _upload_name(body) if method == "POST" and "/upload/" in path else None
        short = name and _short(name)
        if short in targets and short not in lost:
            lost.append(short)
            return "lost"
        return None

    proxy.before = before
    client = client_for(proxy.url)
    outcome = process_object(
        bucket=gcs_bucket.name, name=blob.name, generation=blob.generation, settings=Settings.from_env(),
        engine=counting, store=GcsStore(gcs_bucket.name, client, fast_retry()),
        source=GcsStore(gcs_bucket.name, client, fast_retry()),
    )

    assert outcome.status == "done" and outcome.pages_ocrd == (1, 2)
    assert sorted(lost) == sorted(targets) and proxy.injected["lost"] == 3
    check_result_set(gcs_bucket, f"ocr-results/lost.pdf/{blob.generation}", words)
    assert counting.total == 2
    messages = [record.getMessage() for record in caplog.records]
    assert "page 1: our write landed but its reply was lost; the page is ours" in messages
    assert not any("written by another" in message for message in messages)


# --- storage gone ------------------------------------------------------------------------------

def _kind(method: str, path: str, body: bytes) -> str:
    """What a storage request is for, in the delivery's own terms: 'write pages/0001.md',
    'GET result.json', 'DELETE claims/0002', 'LIST' ..."""
    if "/upload/" in path:
        return "write " + _short(_upload_name(body) or "?")
    path = unquote(path.split("?", 1)[0])
    if path.endswith("/o"):
        return "LIST"
    if "/o/" not in path:
        return method + " bucket"  # the client library's own background bucket-metadata fetch
    return method + " " + _short(path.split("/o/", 1)[1])


class Outage:
    """Storage goes away from the k-th request of a delivery on (every request dropped)."""

    def __init__(self, proxy: FaultProxy, from_request: int | None):
        self.proxy, self.from_request, self.seen = proxy, from_request, []
        proxy.before = self.before

    def before(self, method, path, body):
        self.seen.append(_kind(method, path, body))
        if self.from_request is not None and len(self.seen) >= self.from_request:
            self.proxy.down = True
        return None


def _deliver(bucket, blob, url, settings, engine, later: float = 0.0):
    client = client_for(url)
    return process_object(
        bucket=bucket.name, name=blob.name, generation=blob.generation, settings=settings, engine=engine,
        clock=lambda: time.time() + later,
        # The production policy, sized for a test: a real deadline is 120 s per call.
        store=GcsStore(bucket.name, client, fast_retry(0.3)), source=GcsStore(bucket.name, client, fast_retry(0.3)),
    )


def _cut_points(gcs_bucket, proxy, counting, settings, words) -> list[tuple[int, str]]:
    """Run one clean delivery through the proxy and name each of its requests."""
    blob = upload(gcs_bucket, "reference.pdf", make_pdf_of(words), "application/pdf")
    outage = Outage(proxy, None)
    assert _deliver(gcs_bucket, blob, proxy.url, settings, counting).status == "done"
    return list(enumerate(outage.seen, 1))


def _outage_run(gcs_bucket, proxy, counting, settings, words, cut, label):
    blob = upload(gcs_bucket, f"outage/{cut:02d}.pdf", make_pdf_of(words), "application/pdf")
    prefix = f"ocr-results/{blob.name}/{blob.generation}"
    proxy.down = False
    outage = Outage(proxy, cut)
    try:
        outcome = _deliver(gcs_bucket, blob, proxy.url, settings, counting)
    except TRANSIENT as exc:  # the platform retries; anything else propagates and fails the test
        assert not getattr(exc, "permanent", False), f"an outage at request {cut} ({label}) was taken for permanent"
        raised = True
    else:
        raised = False
        # Only an outage after the last request a delivery needs can go unnoticed.
        assert outcome.status == "done" and len(outage.seen) < cut, (cut, label, outage.seen)
    state = check_no_false_success(gcs_bucket, prefix, words)
    proxy.down = False
    proxy.before = None
    deliveries = 1
    while True:  # the platform redelivers until acknowledged
        deliveries += 1
        try:
            # Platform retries come back after a backoff: by then the claims the outage kept this
            # delivery from releasing are older than CLAIM_TTL_SECONDS.
            later = settings.claim_ttl_seconds + 1
            if _deliver(gcs_bucket, blob, proxy.url, settings, counting, later).status in ("done", "finished_already"):
                break
        except TRANSIENT:
            assert deliveries < 5, f"no recovery after an outage at request {cut} ({label})"
    check_result_set(gcs_bucket, prefix, words)
    return raised, state


@pytest.mark.parametrize("sweep", ["first-of-each-kind", pytest.param("every-request", marks=pytest.mark.slow)])
def test_storage_outage_raises_and_claims_no_success(gcs_bucket, proxy, counting, sweep):
    # Small renders: the sweep OCRs a page dozens of times, and the phrases read at this size too.
    settings = Settings.from_env(claim_ttl_seconds=60, claim_wait_seconds=10, render_long_edge=400)
    words = PHRASES[:2]
    engine = counting  # the real lite engine, counted
    requests = _cut_points(gcs_bucket, proxy, engine, settings, words)
    if sweep == "first-of-each-kind":
        # Storage goes away just before each kind of request a delivery makes, and before its last.
        firsts = {}
        for index, kind in requests:
            firsts.setdefault(kind, index)
        chosen = sorted({*((i, k) for k, i in firsts.items()), requests[-1]})
    else:
        chosen = requests
    outcomes = []
    for index, kind in chosen:
        outcomes.append((index, kind, *_outage_run(gcs_bucket, proxy, engine, settings, words, index, kind)))
    assert all(raised for _, _, raised, _ in outcomes), outcomes
    print(f"\nFIGURES storage-outage ({sweep}): requests_per_delivery={len(requests)} cuts={[k for _, k in chosen]} "
          f"outages={len(outcomes)} raised={sum(r for _, _, r, _ in outcomes)} "
          f"states={sorted({s for *_, s in outcomes})} results_lost=0")


def test_emulator_stopped_raises(counting):
    """The emulator process itself is gone (connection refused, not a dropped reply)."""
    emulator = GcsEmulator().start()
    try:
        bucket = emulator.client().create_bucket("stopped")
        blob = upload(bucket, "doc.pdf", make_pdf_of(PHRASES[:1]), "application/pdf")
    finally:
        emulator.stop()
    with pytest.raises(TRANSIENT):
        _deliver(bucket, blob, emulator.url, Settings.from_env(), counting)
    assert counting.total == 0
