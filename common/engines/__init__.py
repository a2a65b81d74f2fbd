"""Engines and the choice between them.

``OCR_ENGINE=auto`` picks ``vlm`` where a GPU is present and ``lite`` elsewhere. GPU detection
looks for the NVIDIA device nodes, so choosing ``lite`` never imports torch.
"""

from __future__ import annotations

import glob
import logging
import threading

from common.config import Settings
from common.engines.base import OcrEngine, PageText

__all__ = ["OcrEngine", "PageText", "choose_engine_name", "get_engine", "loaded_engine_names"]

log = logging.getLogger(__name__)
_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


# The device nodes the NVIDIA driver makes, one per GPU (not /dev/nvidiactl or /dev/nvidia-uvm).
# A module constant so that tests can point the check at a folder of their own.
GPU_DEVICES = "/dev/nvidia[0-9]*"


def gpu_present() -> bool:
    return bool(glob.glob(GPU_DEVICES))


def choose_engine_name(requested: str) -> tuple[str, str]:
    """(engine name, the reason it was chosen) for OCR_ENGINE or --engine."""
    if requested != "auto":
        return requested, f"{requested} was asked for"
    if gpu_present():
        return "vlm", f"auto: a GPU is present ({GPU_DEVICES})"
    return "lite", f"auto: no GPU found (no {GPU_DEVICES})"


def loaded_engine_names() -> list[str]:
    """Engines built in this process so far (for /healthz; builds nothing)."""
    return sorted(_engines)


def get_engine(settings: Settings, requested: str | None = None) -> OcrEngine:
    """The process-wide engine for ``requested`` (default: settings.ocr_engine), built once."""
    name, reason = choose_engine_name(requested or settings.ocr_engine)
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None:
            log.info("engine: %s (%s)", name, reason)
            if name == "lite":
                from common.engines.lite import LiteEngine

                engine = LiteEngine(settings)
            else:
                from common.engines.vlm import VlmEngine

                engine = VlmEngine(settings)
            _engines[name] = engine
    return engine
