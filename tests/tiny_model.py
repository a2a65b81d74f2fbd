"""A tiny random-weight Qwen2.5-VL (the Nanonets-OCR-s architecture) and a local hub that serves it.

The model is built once per test session (a few seconds): a byte-level BPE tokenizer trained with
``tokenizers`` on ``tests/data/tiny_tokenizer_corpus.txt`` with Qwen2.5-VL's special tokens and chat
template, a Qwen2.5-VL config shrunk to one layer and 32 hidden units (~250 KB of weights), and a
Qwen2-VL image processor. Random weights produce garbage text; the code path is the real one.

Fixtures (import them explicitly into the test module that uses them):

- ``tiny_model_dir``: the built model folder (session).
- ``hub_server``: a :class:`tests.hub_server.HubServer` serving it as ``TINY_MODEL_ID`` (session).
- ``tiny_model_hub``: per test, a fresh empty cache and reset hub counters. It yields a
  :class:`TinyModelHub` with ``endpoint``, ``model_id``, ``revision`` (the commit hash),
  ``cache_dir`` (use as MODEL_CACHE_PATH), ``server``, ``env()`` and ``settings()``.

To point a process at it, set the environment from ``tiny_model_hub.env()``::

    MODEL_ID=tests/tiny-qwen2_5-vl  MODEL_REVISION=<commit or main>
    MODEL_CACHE_PATH=<cache_dir>    HF_ENDPOINT=<endpoint>

(``HF_ENDPOINT`` is huggingface_hub's own variable; it is read when huggingface_hub is imported, so
set it before starting the process. The loader also reads it at each call, so in-process tests can
set it with monkeypatch.)
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hub_server import HubServer

TINY_MODEL_ID = "tests/tiny-qwen2_5-vl"
CORPUS = Path(__file__).parent / "data" / "tiny_tokenizer_corpus.txt"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Qwen2.5-VL's added tokens, in the model's own order (ids 0.. in the tiny vocabulary).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

# Qwen2-VL's chat template (images and videos become vision_start/pad/vision_end placeholders).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(out: str | Path) -> Path:
    """Write the tiny model into ``out`` (created) and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (PreTrainedTokenizerFast, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2VLImageProcessorPil)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS.read_text(encoding="utf-8").splitlines(), trainer)
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}

    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                      chat_template=CHAT_TEMPLATE, additional_special_tokens=SPECIAL_TOKENS[1:])
    wrapped.save_pretrained(out)
    # Loaded back through AutoTokenizer as the real model's tokenizer class.
    config_path = out / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config["tokenizer_class"] = "Qwen2Tokenizer"
    config_path.write_text(json.dumps(tokenizer_config, indent=1))

    head_dim = 16  # hidden 32 / 2 heads; mrope sections must sum to head_dim / 2
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           fullatt_block_indexes=[0], window_size=112, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
    )
    assert head_dim * 2 == config.text_config.hidden_size
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(out)
    # Small images: a page becomes a few dozen vision tokens, so generate() takes a fraction of a second.
    Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64).save_pretrained(out)
    return out


@dataclass
class TinyModelHub:
    endpoint: str
    model_id: str
    revision: str  # the commit hash
    cache_dir: str  # MODEL_CACHE_PATH (the hub cache is cache_dir/hub)
    server: HubServer

    def env(self, revision: str | None = None, **extra: str) -> dict[str, str]:
        """Environment for a process that should use this hub and cache (merged over os.environ)."""
        env = {k: v for k, v in os.environ.items() if k != "HF_HUB_CACHE"}
        env.pop("HF_HUB_DISABLE_TELEMETRY", None)  # as deployed: huggingface_hub's own extras stay on
        env.update(MODEL_ID=self.model_id, MODEL_REVISION=revision or self.revision,
                   MODEL_CACHE_PATH=self.cache_dir, HF_HOME=self.cache_dir, HF_ENDPOINT=self.endpoint,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])))
        env.update(extra)
        return env

    def settings(self, **overrides):
        from common.config import Settings

        values = dict(model_id=self.model_id, model_revision=self.revision, model_cache_path=self.cache_dir)
        values.update(overrides)
        return Settings.from_env({}, **values)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def hub_server(tiny_model_dir):
    server = HubServer().start()
    server.add_folder(TINY_MODEL_ID, tiny_model_dir)
    yield server
    server.stop()


@pytest.fixture
def tiny_model_hub(hub_server, tmp_path, monkeypatch) -> TinyModelHub:
    """A fresh empty cache in front of the session's hub; HF_ENDPOINT points at the hub meanwhile."""
    import huggingface_hub.constants

    hub_server.reset()
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    # huggingface_hub read HF_ENDPOINT when it was imported, and its telemetry (an agent-registry
    # request when it builds headers) would go to the real hub from this process: keep it off here.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    for name in ("HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    cache_dir = tmp_path / "cache" / "huggingface"
    cache_dir.mkdir(parents=True)
    yield TinyModelHub(hub_server.url, TINY_MODEL_ID, hub_server.repos[TINY_MODEL_ID].commit, str(cache_dir), hub_server)
    hub_server.knobs.release.set()


def python_command(code: str) -> list[str]:
    """argv for a short python -c script run from the repository root."""
    return [sys.executable, "-c", code]


# A loader process, as a cold-starting instance runs it. argv: mode ("engine": VlmEngine.load(), which
# imports transformers and loads the model; "snapshot": model_cache.ensure_snapshot only), poll seconds,
# and optionally a "go" file to wait for (so that several processes start their loads together).
LOADER_SCRIPT = r"""
import json, os, sys, time
mode, poll = sys.argv[1], float(sys.argv[2])
go = sys.argv[3] if len(sys.argv) > 3 else None
if os.environ.get("TEST_NO_SYMLINKS"):
    import errno
    def _refuse(*args, **kwargs):
        raise OSError(errno.EPERM, "this filesystem cannot make symlinks (test)")
    os.symlink = _refuse
import huggingface_hub  # noqa: F401  (imports done before the start line, so loads start together)
from common.config import Settings
from common import model_cache
from common.errors import OcrError
settings = Settings.from_env()
if settings.model_cache_bucket:
    from common.storage import gcs_client
    gcs_client()
print("READY", flush=True)
while go and not os.path.exists(go):
    time.sleep(0.01)
try:
    if mode == "engine":
        from common.engines.vlm import VlmEngine
        report = VlmEngine(settings).load()
    else:
        report = model_cache.ensure_snapshot(settings, poll_seconds=poll)
except OcrError as exc:
    print("ERROR " + json.dumps({"type": type(exc).__name__, "message": exc.message}), flush=True)
    sys.exit(3)
offline = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
print("REPORT " + json.dumps(dict(report.as_dict(), instance=model_cache.INSTANCE_ID, offline_env=offline)), flush=True)
"""


def parse_loader_output(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("REPORT "):
            return json.loads(line[len("REPORT "):])
        if line.startswith("ERROR "):
            return {"error": json.loads(line[len("ERROR "):])}
    raise AssertionError(f"loader printed no report:\n{stdout[-3000:]}")


def run_loader(env: dict[str, str], mode: str = "snapshot", poll: float = 0.1, timeout: float = 120) -> dict:
    """Run one loader process to the end; its report (or {"error": ...})."""
    import subprocess

    done = subprocess.run(python_command(LOADER_SCRIPT) + [mode, str(poll)], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)
    try:
        return parse_loader_output(done.stdout)
    except AssertionError:
        raise AssertionError(f"loader exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}") from None
