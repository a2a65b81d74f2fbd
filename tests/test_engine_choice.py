"""OCR_ENGINE=auto, the deployed value: vlm where the machine has a GPU device node, lite elsewhere.

The check looks for the NVIDIA driver's device nodes; the tests point it at a folder of their own
(common.engines.GPU_DEVICES), with and without such a node, and run the engine it picks."""

from __future__ import annotations

import logging

import pytest

import common.engines as engines
from common.config import Settings
from common.pipeline import ocr_document
from tests.pages import pdf_bytes, text_page
from tests.tiny_model import hub_server, tiny_model_dir, tiny_model_hub  # noqa: F401 (fixtures)

PAGE = text_page(["Auto engine page"], size=(600, 300), top=40, left=40, font_size=40)


@pytest.fixture
def devices(tmp_path, monkeypatch):
    """A /dev of our own for the GPU check, and no engine built yet in this process."""
    folder = tmp_path / "dev"
    folder.mkdir()
    monkeypatch.setattr(engines, "GPU_DEVICES", str(folder / "nvidia[0-9]*"))
    monkeypatch.setattr(engines, "_engines", {})
    return folder


def test_auto_is_lite_without_a_gpu_device_and_vlm_with_one(devices):
    assert engines.choose_engine_name("auto") == ("lite", f"auto: no GPU found (no {devices}/nvidia[0-9]*)")
    (devices / "nvidiactl").touch()  # the driver's control node alone is not a GPU
    (devices / "nvidia-uvm").touch()
    assert engines.choose_engine_name("auto")[0] == "lite"
    (devices / "nvidia0").touch()
    assert engines.choose_engine_name("auto") == ("vlm", f"auto: a GPU is present ({devices}/nvidia[0-9]*)")
    for asked in ("lite", "vlm"):  # an explicit choice is never second-guessed
        assert engines.choose_engine_name(asked) == (asked, f"{asked} was asked for")


def test_auto_without_a_gpu_reads_the_document_with_lite(devices, caplog):
    caplog.set_level(logging.INFO, logger="common.engines")
    settings = Settings.from_env({"OCR_ENGINE": "auto"})
    result = ocr_document(pdf_bytes([PAGE]), settings)
    assert result.engine == "lite" and "Auto engine page" in result.pages[0].text
    assert any(r.getMessage().startswith("engine: lite (auto: no GPU found") for r in caplog.records)


def test_auto_with_a_gpu_reads_the_document_with_vlm(devices, tiny_model_hub, caplog):
    caplog.set_level(logging.INFO, logger="common.engines")
    (devices / "nvidia0").touch()
    settings = tiny_model_hub.settings(ocr_engine="auto", max_new_tokens=8)
    result = ocr_document(pdf_bytes([PAGE]), settings)
    assert (result.engine, result.model, result.revision) == ("vlm", tiny_model_hub.model_id, tiny_model_hub.revision)
    assert result.failed_pages == [] and [p.number for p in result.pages] == [1]
    assert any(r.getMessage().startswith("engine: vlm (auto: a GPU is present") for r in caplog.records)
