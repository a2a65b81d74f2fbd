"""Crashes: a real functions-framework instance is SIGKILLed at a random point of a 3-page document,
then the event is redelivered to a surviving instance. Short: 3 trials; full (slow): 20.

The random point is either a storage request of the doomed instance (the k-th, k uniform over a
whole delivery; killed just before the request reaches storage, or just after it landed and before
the reply gets back) or a moment (uniform over the time a whole delivery takes, so mostly mid-OCR).

"Exactly once", as checked here: every page object is written exactly once (one upload of it
reaches storage and succeeds, none is refused as a duplicate: nobody OCR'd a page whose output had
landed); the survivor OCRs exactly the pages whose output the doomed instance had not landed; no
page is missing; result.json is written once and agrees with the pages (page_count, page list)
and document.md is the pages in order; no claim is left behind.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter

import pytest

from tests.hardening_helpers import (
    PHRASES, check_result_set, deliver_until_acknowledged, make_pdf_of,
)
from tests.hardening_helpers import instances  # noqa: F401  (fixture)
from tests.upload_helpers import finalized_event, upload

WORDS = PHRASES[:3]
# Small, so the survivor takes over the doomed instance's claims after a short wait.
ENV = {"CLAIM_TTL_SECONDS": "2"}


def _post_quietly(url, event):
    import requests

    from tests.upload_helpers import post_event

    try:
        post_event(url, event)
    except requests.RequestException:
        pass  # the instance dies under the request


@pytest.mark.parametrize("trials", [3, pytest.param(20, marks=pytest.mark.slow)])
def test_killed_at_random_points_then_redelivered(gcs_bucket, instances, trials):
    rng = random.Random(8 * 1000 + trials)
    survivor = instances("survivor", **ENV)
    # A reference delivery tells how many storage requests and seconds a whole one takes.
    reference = upload(gcs_bucket, "crash/reference.pdf", make_pdf_of(WORDS), "application/pdf")
    started = time.monotonic()
    before = survivor.requests
    assert deliver_until_acknowledged(survivor.url, finalized_event(reference)) == 1
    requests_per_delivery, seconds_per_delivery = survivor.requests - before, time.monotonic() - started
    writes = survivor.trace[before:]
    result_request = next(i for i, (_, name) in enumerate(writes, 1) if name and name.endswith("/result.json"))

    figures, points = Counter(), []
    for trial in range(trials):
        blob = upload(gcs_bucket, f"crash/t{trial:02d}.pdf", make_pdf_of(WORDS), "application/pdf")
        prefix = f"ocr-results/{blob.name}/{blob.generation}"
        event = finalized_event(blob)
        doomed = instances(f"doomed{trial:02d}", **ENV)
        # The kinds take turns so that even the short run has each; the point within is random.
        how = ("before-request", "after-request", "moment")[trial % 3]
        # Every kill falls mid-delivery: a request point is drawn among those before result.json's
        # write, and the doomed instance never gets that write through (killed there at once if
        # the point did not come first; held there until the moment comes, for a moment kill).
        if how == "before-request":
            doomed.kill_before = rng.randint(1, result_request)
        elif how == "after-request":
            doomed.kill_after = rng.randint(1, result_request - 1)
        doomed.stop_at_result = "hold" if how == "moment" else "kill"
        delivery = threading.Thread(target=_post_quietly, args=(doomed.url, event))
        delivery.start()
        if how == "moment":
            moment = rng.uniform(0.0, seconds_per_delivery)
            delivery.join(timeout=moment)
            doomed.kill(f"{moment:.1f} s into the delivery")
        delivery.join()
        assert doomed.killed_at is not None and doomed.process.wait() == -signal.SIGKILL
        figures[how] += 1
        points.append(doomed.killed_at)

        landed_by_doomed = {n for n in range(1, 4) if doomed.writes.of(f"{prefix}/pages/{n:04d}.md")[(doomed.label, 200)]}
        finished_before_kill = any(who == doomed.label and status == 200
                                   for (who, status) in doomed.writes.of(f"{prefix}/result.json"))
        deliveries = deliver_until_acknowledged(survivor.url, event)
        figures["redeliveries"] += deliveries

        check_result_set(gcs_bucket, prefix, WORDS)
        assert not finished_before_kill, (trial, how, doomed.killed_at)  # a kill mid-delivery, every time
        for n in range(1, 4):
            page_writes = instances.writes.of(f"{prefix}/pages/{n:04d}.md")
            assert sum(page_writes.values()) == 1 and sum(c for (_, s), c in page_writes.items() if s == 200) == 1, \
                (trial, how, doomed.killed_at, n, page_writes)
        result_writes = instances.writes.of(f"{prefix}/result.json")
        assert sum(c for (_, s), c in result_writes.items() if s == 200) == 1, (trial, result_writes)
        assert sorted(survivor.pages_done(blob.name)) == sorted({1, 2, 3} - landed_by_doomed), \
            (trial, how, doomed.killed_at, landed_by_doomed)
        figures["pages_by_doomed"] += len(landed_by_doomed)
        figures["pages_by_survivor"] += 3 - len(landed_by_doomed)
        figures["finished_before_kill"] += finished_before_kill
        doomed.close()

    print(f"\nFIGURES crashes: trials={trials} pages_per_document=3 requests_per_delivery={requests_per_delivery} "
          f"kills={dict((k, figures[k]) for k in ('before-request', 'after-request', 'moment'))} "
          f"pages_landed_by_killed={figures['pages_by_doomed']} pages_by_survivor={figures['pages_by_survivor']} "
          f"killed_after_result={figures['finished_before_kill']} survivor_deliveries={figures['redeliveries']} "
          f"pages_written_twice=0 results_lost=0\n  kill points: {points}")
