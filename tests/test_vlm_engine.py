"""The vlm engine end to end on the tiny Qwen2.5-VL: real processor, real generate, real markup."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

import pytest
from PIL import Image, ImageDraw

from common import model_cache
from common.engines.base import PageText
from common.engines.vlm import PROMPT, VlmEngine, fit_image, is_runaway, repeating_tail, split_markup
from tests.tiny_model import REPO_ROOT, hub_server, python_command, tiny_model_dir, tiny_model_hub  # noqa: F401

LOOPING_MODEL_ID = "tests/tiny-looping"


@pytest.fixture(autouse=True)
def _fresh_process_state():
    model_cache.forget_loads()
    yield
    model_cache.forget_loads()


@pytest.fixture(scope="session")
def looping_model(hub_server, tiny_model_dir, tmp_path_factory):
    """The tiny model with its output layer zeroed: every step ties, greedy picks token 0 forever."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("looping") / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights = load_file(folder / "model.safetensors")
    zeroed = [name for name in weights if name.endswith("lm_head.weight")]
    assert zeroed, list(weights)
    for name in zeroed:
        weights[name].zero_()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return hub_server.add_folder(LOOPING_MODEL_ID, folder)


class CountingEngine(VlmEngine):
    """Records each generate call's batch size and extra settings."""

    def __init__(self, settings):
        super().__init__(settings)
        self.calls: list[tuple[int, dict]] = []

    def _generate(self, images, **extra):
        self.calls.append((len(images), extra))
        return super()._generate(images, **extra)


def page(text: str, size=(420, 560)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for line, y in zip(text.split("\n"), range(30, size[1], 24)):
        draw.text((30, y), line, fill="black")
    return image


def test_construction_is_cheap_and_imports_neither_torch_nor_transformers(tiny_model_hub):
    code = ("import sys\n"
            "from common.config import Settings\n"
            "from common.engines import get_engine\n"
            "engine = get_engine(Settings.from_env(), 'vlm')\n"
            "heavy = [m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules]\n"
            "print(engine.name, engine.model, engine.batch_size, engine.revision, heavy)\n")
    done = subprocess.run(python_command(code), env=tiny_model_hub.env("main", VLM_BATCH_SIZE="3"), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["vlm", tiny_model_hub.model_id, "3", "main", "[]"]
    assert tiny_model_hub.server.snapshot() == []  # constructing asks nothing of the network


def test_ocr_pages_generates_one_page_text_per_image_in_batches(tiny_model_hub):
    hub = tiny_model_hub
    engine = CountingEngine(hub.settings(model_revision="main", vlm_batch_size=2, max_new_tokens=12))
    images = [page(f"Page {n}\nThe quick brown fox jumps over the lazy dog.") for n in range(1, 6)]

    pages = engine.ocr_pages(images)

    assert len(pages) == 5 and all(isinstance(p, PageText) for p in pages)
    assert all(isinstance(p.text, str) for p in pages)
    first_pass = [size for size, extra in engine.calls if not extra]
    assert first_pass == [2, 2, 1]
    assert all(size == 1 for size, extra in engine.calls if extra)  # retries are single pages
    assert engine.revision == hub.revision and engine.model == hub.model_id


def test_load_reports_once_and_later_calls_say_already_loaded(tiny_model_hub):
    hub = tiny_model_hub
    engine = VlmEngine(hub.settings(model_revision="main"))
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(engine.load())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(r.already_loaded for r in reports) == [False, True, True, True]
    assert {(r.model, r.revision, r.cache) for r in reports} == {(hub.model_id, hub.revision, "downloaded")}
    again = engine.load()
    assert again.already_loaded and again.revision == hub.revision
    summary = again.as_dict()
    assert summary["cache"] == "downloaded" and set(summary["seconds"]) == {"resolve", "download", "load"}
    assert hub.server.file_gets() == {name: 1 for name in hub.server.repos[hub.model_id].files}


def test_huge_page_is_scaled_down_to_vlm_max_pixels(tiny_model_hub):
    max_pixels = 28 * 28 * 16
    engine = VlmEngine(tiny_model_hub.settings(model_revision="main", vlm_max_pixels=max_pixels))
    inputs = engine.prepare([page("huge scan", size=(3000, 4000))])
    _, height, width = inputs["image_grid_thw"][0].tolist()
    assert height * width * 14 * 14 <= max_pixels


def test_looping_page_is_retried_once_then_marked_failed(tiny_model_hub, looping_model, caplog):
    hub = tiny_model_hub
    engine = CountingEngine(hub.settings(model_id=LOOPING_MODEL_ID, model_revision="main", max_new_tokens=16,
                                         vlm_batch_size=2))
    with caplog.at_level(logging.WARNING, logger="common.engines.vlm"):
        pages = engine.ocr_pages([page("a"), page("b")])

    assert [p.error is not None for p in pages] == [True, True]
    assert "repeated itself until MAX_NEW_TOKENS (16)" in pages[0].error
    assert [extra for _, extra in engine.calls] == [{}, {"repetition_penalty": 1.15}, {"repetition_penalty": 1.15}]
    assert "retrying once" in caplog.text


def test_repetition_guard_detects_loops_on_token_sequences():
    stop = [2]
    assert is_runaway([5, 6, 7] + [8, 9] * 10, max_new_tokens=23, stop_ids=stop)
    assert is_runaway([4] * 16, max_new_tokens=16, stop_ids=stop)
    # Stopped by itself, or did not use the whole budget: not a runaway, however repetitive.
    assert not is_runaway([8, 9] * 8 + [2], max_new_tokens=17, stop_ids=stop)
    assert not is_runaway([8, 9] * 5, max_new_tokens=16, stop_ids=stop)
    # Used the budget without repeating: truncated, not looping.
    assert not is_runaway(list(range(10, 42)), max_new_tokens=32, stop_ids=stop)
    # A short echo at the end of a long text is not a loop.
    assert not is_runaway(list(range(100, 160)) + [7, 7, 7], max_new_tokens=63, stop_ids=stop)
    assert repeating_tail([7, 1, 2, 1, 2, 1, 2]) == (2, 6)


def test_page_numbers_and_watermarks_leave_the_body_text():
    text = ("<watermark>OFFICIAL COPY</watermark>\n# Report\n\nRevenue grew.\n\n"
            "<page_number>9/22</page_number>")
    result = split_markup(text)
    assert result.text == "# Report\n\nRevenue grew."
    assert result.header == ["OFFICIAL COPY"] and result.footer == ["9/22"]
    assert split_markup("<header>ACME Corp</header>Body<footer>Confidential</footer>").header == ["ACME Corp"]


def test_fit_image_keeps_small_pages_and_shrinks_big_ones():
    small = Image.new("L", (100, 100))
    assert fit_image(small, 20_000).size == (100, 100) and fit_image(small, 20_000).mode == "RGB"
    width, height = fit_image(Image.new("RGB", (4000, 3000)), 1_200_000).size
    assert width * height <= 1_200_000 and abs(width / height - 4 / 3) < 0.01


def test_prompt_is_the_model_cards():
    assert PROMPT.startswith("Extract the text from the above document as if you were reading it naturally. "
                             "Return the tables in html format. Return the equations in LaTeX representation.")
    assert PROMPT.endswith("Prefer using ☐ and ☑ for check boxes.")


def test_a_page_image_the_processor_refuses_fails_that_page_only(tiny_model_hub):
    # A 2000 x 5 strip (a PDF page that shape renders so): Qwen2-VL's processor refuses aspect
    # ratios over 200 with a ValueError. That is the page's fault; the other pages are read.
    engine = CountingEngine(tiny_model_hub.settings(model_revision="main", vlm_batch_size=3, max_new_tokens=8))
    pages = engine.ocr_pages([page("first"), Image.new("RGB", (2000, 5), "white"), page("third")])

    assert [p.error is not None for p in pages] == [False, True, False]
    assert "aspect ratio" in pages[1].error and pages[1].text == ""
    # The batch's processor call failed before generating; then the readable pages went on together.
    assert [size for size, extra in engine.calls if not extra] == [3, 2]
