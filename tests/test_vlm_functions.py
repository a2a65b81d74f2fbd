"""The vlm engine behind the real command line and the real HTTP function, with the tiny model
served by the local hub: download on the first cold start, one load per instance, 503 when the
model cannot be had."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.http_client import FunctionProcess
from tests.pages import pdf_bytes, text_page
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
PAGE = text_page(["A page for the vlm engine"], size=(600, 400), top=60, left=40, font_size=36)


def test_cli_runs_generate_end_to_end_with_the_vlm_engine(tiny_model_hub, tmp_path):
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf_bytes([PAGE, PAGE]))
    env = tiny_model_hub.env(MAX_NEW_TOKENS="12", VLM_BATCH_SIZE="2", OCR_ENGINE="lite")
    done = subprocess.run([sys.executable, "main.py", "ocr", str(path), "--engine", "vlm", "--format", "json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    # The tiny model's weights are seeded and decoding is greedy: within 12 tokens it does not loop.
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["engine"], result["model"], result["revision"]) == ("vlm", tiny_model_hub.model_id, tiny_model_hub.revision)
    assert [page["number"] for page in result["pages"]] == [1, 2] and result["failed_pages"] == []
    assert result["pages"][0]["text"] == result["pages"][1]["text"]  # the same page reads the same
    assert "engine: vlm (vlm was asked for)" in done.stderr
    assert "cache miss" in done.stderr and "downloaded" in done.stderr
    # The first cold start fetched each file of the model once.
    assert tiny_model_hub.server.file_gets() == {name: 1 for name in tiny_model_hub.server.repos[tiny_model_hub.model_id].files}


def test_http_function_loads_the_model_once_for_eight_concurrent_cold_requests(tiny_model_hub, tmp_path):
    env = tiny_model_hub.env(OCR_ENGINE="vlm", MAX_NEW_TOKENS="8", MAX_CONCURRENT_DOCUMENTS="2")
    function = FunctionProcess("ocr_http", "http", env, tmp_path / "function.log")
    try:
        document = pdf_bytes([PAGE])

        def call(index: int):
            if index % 2:
                return requests.post(function.url + "/warmup", timeout=300)
            return requests.post(function.url + "/ocr", data=document, headers={"Content-Type": "application/pdf"},
                                 timeout=300)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(call, range(8)))
        assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
        warmups = [r.json() for i, r in enumerate(responses) if i % 2]
        assert {w["engine"] for w in warmups} == {"vlm"} and {w["revision"] for w in warmups} == {tiny_model_hub.revision}
        assert {r.json()["engine"] for i, r in enumerate(responses) if not i % 2} == {"vlm"}
        loads = [line for line in function.log().splitlines() if ") loaded: cache" in line]
        assert len(loads) == 1, loads
        assert tiny_model_hub.server.file_gets() == {name: 1 for name in tiny_model_hub.server.repos[tiny_model_hub.model_id].files}
        # A ping on a warm instance answers at once, from the same load.
        again = requests.post(function.url + "/warmup", timeout=30).json()
        assert again["already_loaded"] is True
    finally:
        function.stop()


def test_http_function_answers_503_with_retry_after_when_the_model_cannot_be_had(tmp_path):
    env = {"OCR_ENGINE": "vlm", "MODEL_ID": "nobody/no-such-model", "MODEL_CACHE_PATH": str(tmp_path / "cache"),
           "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    function = FunctionProcess("ocr_http", "http", env, tmp_path / "function.log")
    try:
        for response in (requests.post(function.url + "/warmup", timeout=120),
                         requests.post(function.url + "/ocr", data=pdf_bytes([PAGE]),
                                       headers={"Content-Type": "application/pdf"}, timeout=120)):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "model_unavailable"
            assert int(response.headers["Retry-After"]) > 0
        assert requests.get(function.url + "/healthz", timeout=10).status_code == 200
    finally:
        function.stop()
