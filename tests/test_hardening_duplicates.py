"""Duplicates and races, against two real functions-framework instances (as two Cloud Run instances).

- The same event delivered 100 times, 8 at a time, alternating between the instances: one result
  set, each page OCR'd and written once, every delivery acknowledged.
- Two generations of one object name (a versioned bucket keeps both), their events delivered
  many times over, interleaved: two separate result sets, each with its own generation's pages.

"Each page OCR'd once" is read from two independent sources: the instances' "page N done" log
lines (one per page that a delivery OCR'd and stored) and the uploads that reached storage
(each page object uploaded once; no late duplicate refused with a 412).
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.hardening_helpers import PHRASES, check_result_set, instances, make_pdf_of  # noqa: F401  (fixture)
from tests.upload_helpers import finalized_event, post_event, upload


def _deliver_all(targets, events, parallel: int = 8) -> Counter:
    """POST each event to the next instance in turn, ``parallel`` at a time; the statuses, counted."""
    jobs = [(targets[i % len(targets)], event) for i, event in enumerate(events)]
    with ThreadPoolExecutor(parallel) as pool:
        return Counter(pool.map(lambda job: post_event(*job), jobs))


def _uploads(writes, prefix: str, name: str) -> Counter:
    """Uploads of one object that reached storage, by status, over every instance."""
    counts = Counter()
    for (_, status), count in writes.of(f"{prefix}/{name}").items():
        counts[status] += count
    return counts


def test_same_event_100_times_8_at_a_time(gcs_bucket, instances):
    first, second = instances("first"), instances("second")
    words = PHRASES[:3]
    blob = upload(gcs_bucket, "dup/doc.pdf", make_pdf_of(words), "application/pdf")
    event = finalized_event(blob)
    prefix = f"ocr-results/{blob.name}/{blob.generation}"

    statuses = _deliver_all([first.url, second.url], [event] * 100)

    assert statuses == {200: 100}
    check_result_set(gcs_bucket, prefix, words)
    ocrd = Counter(first.pages_done(blob.name) + second.pages_done(blob.name))
    assert ocrd == {1: 1, 2: 1, 3: 1}, ocrd
    for n in (1, 2, 3):
        assert _uploads(instances.writes, prefix, f"pages/{n:04d}.md") == {200: 1}
    result = _uploads(instances.writes, prefix, "result.json")
    assert result[200] == 1
    nothing_to_do = sum(e["message"].startswith("nothing to do") for i in (first, second) for e in i.entries())
    print(f"\nFIGURES duplicates: deliveries=100 parallel=8 instances=2 acknowledged={statuses[200]} "
          f"pages=3 page_ocr={dict(ocrd)} by_instance={len(first.pages_done(blob.name))}+"
          f"{len(second.pages_done(blob.name))} result_json_writes={result[200]} "
          f"refused_late_finishers={result[412]} found_finished={nothing_to_do} result_sets=1")


def test_two_generations_of_one_name(gcs_emulator, instances):
    client = gcs_emulator.client()
    bucket = client.bucket("dup-versions")
    bucket.versioning_enabled = True  # so the older generation can still be read after the overwrite
    bucket = client.create_bucket(bucket)
    first, second = instances("first"), instances("second")
    old_words, new_words = [PHRASES[0], PHRASES[1]], [PHRASES[3]]
    old = upload(bucket, "dup/same.pdf", make_pdf_of(old_words), "application/pdf")
    new = upload(bucket, "dup/same.pdf", make_pdf_of(new_words), "application/pdf")
    assert old.generation != new.generation
    events = [finalized_event(old), finalized_event(new)] * 20  # interleaved, each 20 times

    statuses = _deliver_all([first.url, second.url], events)

    assert statuses == {200: 40}
    for blob, words in ((old, old_words), (new, new_words)):
        prefix = f"ocr-results/{blob.name}/{blob.generation}"
        result = check_result_set(bucket, prefix, words)
        assert result["generation"] == str(blob.generation) and result["source"].endswith(f"#{blob.generation}")
        ocrd = Counter(first.pages_done(blob.name, blob.generation) + second.pages_done(blob.name, blob.generation))
        assert ocrd == {n: 1 for n in range(1, len(words) + 1)}, (blob.generation, ocrd)
    # Nothing else: one folder per generation.
    folders = {b.name.split("/")[3] for b in client.list_blobs(bucket, prefix="ocr-results/")}
    assert folders == {str(old.generation), str(new.generation)}
    print(f"\nFIGURES generations: generations=2 deliveries=40 parallel=8 acknowledged={statuses[200]} "
          f"result_sets=2 pages_each_ocrd_once=True "
          f"result_json={[json.loads(bucket.blob(f'ocr-results/dup/same.pdf/{b.generation}/result.json').download_as_bytes())['page_count'] for b in (old, new)]}")
