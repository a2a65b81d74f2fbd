"""The worker refuses tasks without the queue's OIDC token when TASKS_SERVICE_ACCOUNT is set, and
anything that is not a task (wrong route, method or body), before touching any job."""

from __future__ import annotations

import functions_framework
import pytest

from tests.upload_helpers import FUNCTION_SOURCE

PAYLOAD = {"bucket": "b", "prefix": "ocr-results/jobs/" + "a" * 32, "chunk": 0}


@pytest.fixture
def worker(monkeypatch):
    import functions.worker

    def start(**env):
        for key, value in {"OCR_ENGINE": "lite", "LOG_FORMAT": "json", **env}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(functions.worker, "_settings", None)
        return functions_framework.create_app("ocr_worker", FUNCTION_SOURCE, "http").test_client()

    return start


def test_without_or_with_a_bad_token_is_401(worker):
    client = worker(TASKS_SERVICE_ACCOUNT="tasks@p.iam.gserviceaccount.com", TASKS_WORKER_URL="https://worker.example")
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}):
        response = client.post("/tasks/chunk", json=PAYLOAD, headers=headers)
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized", headers
    assert client.post("/tasks/callback", json=PAYLOAD).status_code == 401


def test_not_a_task(worker):
    client = worker()
    assert client.post("/elsewhere", json=PAYLOAD).status_code == 404
    assert client.get("/tasks/chunk").status_code == 405
    assert client.post("/tasks/chunk", data=b"[]", content_type="application/json").status_code == 400
    outside = client.post("/tasks/chunk", json={**PAYLOAD, "prefix": "private/thing"})
    assert outside.status_code == 400 and "RESULTS_PREFIX" in outside.json["error"]["message"]
