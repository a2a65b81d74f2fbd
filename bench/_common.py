"""Helpers shared by the bench scripts: paths, a bigger random-weight model, a local hub, medians.

Importing this module puts the repository root on sys.path, so ``common`` and ``tests`` import
from a fresh clone without installing anything.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_MODEL_ID = "bench/random-qwen2_5-vl"


def shared_dir() -> Path:
    """The shared data folder: $GNOSIS_SHARED, else ../shared next to the repository."""
    return Path(os.environ.get("GNOSIS_SHARED") or ROOT.parent / "shared")


def words(text: str) -> Counter:
    """The text's words, counted, lower-cased, with the punctuation at their edges stripped."""
    return Counter(w for w in (re.sub(r"^\W+|\W+$", "", t).lower() for t in text.split()) if w)


def median(values) -> float:
    return statistics.median(values)


def machine() -> str:
    gpu = "a GPU" if any(Path("/dev").glob("nvidia[0-9]*")) else "no GPU"
    return f"{os.cpu_count()} CPU cores, {gpu}, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build_model(out: Path, *, hidden: int = 1024, layers: int = 6, intermediate: int | None = None,
                vision_depth: int = 2, vision_hidden: int = 256) -> Path:
    """A random-weight Qwen2.5-VL big enough that loading it takes measurable time.

    The tokenizer, image processor and chat template come from the test suite's tiny model (so the
    repo's own loading code accepts it); only the weights are scaled up. The defaults give ~300 MB
    of float32 safetensors in a few seconds.
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from transformers.utils import logging as hf_logging

    from tests.tiny_model import build_tiny_model

    hf_logging.disable_progress_bar()
    build_tiny_model(out)
    tiny = json.loads((out / "config.json").read_text())
    text = tiny["text_config"]
    heads = max(2, hidden // 64)
    head_dim = hidden // heads
    # mrope sections must add up to half the head dimension (Qwen2.5-VL-3B: 16, 24, 24 of 64).
    side = head_dim * 3 // 16
    mrope = [head_dim // 2 - 2 * side, side, side]
    ids = {k: tiny[k] for k in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")}
    special = {k: text[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in text}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=text["vocab_size"], hidden_size=hidden, intermediate_size=intermediate or hidden * 11 // 4,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 4),
                         max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "mrope_section": mrope, "rope_theta": 10000.0},
                         **special),
        vision_config=dict(depth=vision_depth, hidden_size=vision_hidden, intermediate_size=vision_hidden * 2,
                           num_heads=max(2, vision_hidden // 64), out_hidden_size=hidden,
                           fullatt_block_indexes=[vision_depth - 1], window_size=112, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        **ids, **special,
    )
    torch.manual_seed(0)
    with torch.no_grad():
        model = Qwen2_5_VLForConditionalGeneration(config)
    for stale in out.glob("model*.safetensors*"):
        stale.unlink()
    model.save_pretrained(out)
    return out


class LocalHub:
    """tests.hub_server.HubServer serving one folder as BENCH_MODEL_ID; counts requests and bytes."""

    def __init__(self, folder: Path, model_id: str = BENCH_MODEL_ID):
        from tests.hub_server import HubServer

        self.server = HubServer().start()
        self.model_id = model_id
        self.commit = self.server.add_folder(model_id, folder)
        self.model_bytes = sum(len(data) for data in self.server.repos[model_id].files.values())

    @property
    def url(self) -> str:
        return self.server.url

    def requests(self) -> int:
        return len(self.server.snapshot())

    def env(self, cache_dir: Path, **extra: str) -> dict[str, str]:
        """The environment of a process that uses this hub and cache, as deployed (HF_HOME = cache)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
        env.update(MODEL_ID=self.model_id, MODEL_REVISION="main", MODEL_CACHE_PATH=str(cache_dir),
                   HF_HOME=str(cache_dir), HF_ENDPOINT=self.url, PYTHONPATH=str(ROOT))
        # As deployed by default: huggingface_hub's telemetry stays on; it too would hit the local
        # hub (HF_ENDPOINT) and be counted.
        env.pop("HF_HUB_DISABLE_TELEMETRY", None)
        env.update(extra)
        return env

    def stop(self) -> None:
        self.server.stop()


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
