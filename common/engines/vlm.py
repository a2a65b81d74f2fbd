"""The vlm engine: a HuggingFace vision-language OCR model (default nanonets/Nanonets-OCR-s).

transformers' ``AutoModelForImageTextToText`` with the model card's prompt, greedy decoding, pages
batched, bf16 on the GPU. The model comes from ``common.model_cache`` (a cache hit makes no network
request) and is loaded once per process.

Constructing a VlmEngine is cheap and imports neither torch nor transformers (the lite path and
the HTTP function's start-up stay fast); loading happens in ``load()`` or on the first page.

No torchvision: transformers' AutoProcessor for Qwen2.5-VL insists on a video processor, which
needs torchvision. We build the processor from the tokenizer and image processor only.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from common import model_cache
from common.config import Settings
from common.engines.base import PageText

log = logging.getLogger(__name__)

# The prompt from the Nanonets-OCR-s model card, word for word: the model was tuned on it and
# "does not work if you change the prompt much".
PROMPT = (
    "Extract the text from the above document as if you were reading it naturally. "
    "Return the tables in html format. Return the equations in LaTeX representation. "
    "If there is an image in the document and image caption is not present, add a small description of the "
    "image inside the <img></img> tag; otherwise, add the image caption inside <img></img>. "
    "Watermarks should be wrapped in brackets. Ex: <watermark>OFFICIAL COPY</watermark>. "
    "Page numbers should be wrapped in brackets. Ex: <page_number>14</page_number> or "
    "<page_number>9/22</page_number>. Prefer using ☐ and ☑ for check boxes."
)
SYSTEM_PROMPT = "You are a helpful assistant."

# The retry of a page that looped: a mild repetition penalty breaks most loops; it stays mild because
# tables legitimately repeat cell markup.
RETRY_GENERATION = {"repetition_penalty": 1.15}

# Fallback when transformers' processor mapping moves; keyed by config.model_type.
_PROCESSORS = {"qwen2_5_vl": "Qwen2_5_VLProcessor", "qwen2_vl": "Qwen2VLProcessor"}


# -- the repetition guard --------------------------------------------------------------------------

def repeating_tail(tokens: Sequence[int], max_period: int = 256) -> tuple[int, int]:
    """(period, length) of the longest periodic suffix of ``tokens`` with period <= max_period.

    ``[7, 1, 2, 1, 2, 1, 2]`` -> (2, 6). A suffix that repeats once (length < 2 * period) does not count.
    """
    tokens = list(tokens)
    n = len(tokens)
    best = (0, 0)
    for period in range(1, min(max_period, n // 2) + 1):
        length = period
        while length < n and tokens[n - 1 - length] == tokens[n - 1 - length + period]:
            length += 1
        if length >= 2 * period and length > best[1]:
            best = (period, length)
    return best


def is_runaway(tokens: Sequence[int], max_new_tokens: int, stop_ids: Sequence[int] = (),
               min_repeats: int = 3) -> bool:
    """True when a generation ran to ``max_new_tokens`` because it was repeating itself.

    Both must hold: it never stopped by itself (no stop token, the full budget used) and its end is
    one short pattern repeated at least ``min_repeats`` times, covering at least a quarter of the
    output. A long page that merely ran out of tokens is truncated, not looping.
    """
    if len(tokens) < max_new_tokens or any(t in stop_ids for t in tokens):
        return False
    period, length = repeating_tail(tokens)
    return period > 0 and length >= max(min_repeats * period, len(tokens) // 4)


# -- the model's markup ----------------------------------------------------------------------------

_TAGS = {
    "page_number": "footer",
    "footer": "footer",
    "watermark": "header",
    "header": "header",
}
_TAG = re.compile(r"<(page_number|footer|watermark|header)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


def split_markup(text: str) -> PageText:
    """Body text, with page numbers and footers moved to ``footer``, watermarks and headers to ``header``.

    Nanonets-OCR-s wraps page numbers in <page_number>..</page_number> and watermarks in
    <watermark>..</watermark>; running headers and footers are not body text either.
    """
    header: list[str] = []
    footer: list[str] = []

    def take(match: re.Match) -> str:
        value = " ".join(match.group(2).split())
        if value:
            (header if _TAGS[match.group(1).lower()] == "header" else footer).append(value)
        return ""

    body = _TAG.sub(take, text)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return PageText(text=body, header=header, footer=footer)


def fit_image(image: Image.Image, max_pixels: int) -> Image.Image:
    """The page in RGB, scaled down (aspect kept) to at most ``max_pixels`` pixels."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


# -- loading ---------------------------------------------------------------------------------------

@dataclass
class _Bundle:
    model: object
    processor: object
    device: str
    stop_ids: tuple[int, ...]


def _chat_template(folder: Path, tokenizer) -> str | None:
    """The processor's chat template as the model repo ships it (jinja or json), else the tokenizer's."""
    if (path := folder / "chat_template.jinja").is_file():
        return path.read_text(encoding="utf-8")
    if (path := folder / "chat_template.json").is_file():
        return json.loads(path.read_text(encoding="utf-8")).get("chat_template")
    return getattr(tokenizer, "chat_template", None)


def _image_only_processor(model_type: str, image_processor, tokenizer, chat_template):
    """The model's processor class without its video processor (which would need torchvision)."""
    import inspect

    import transformers

    try:
        from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

        name = PROCESSOR_MAPPING_NAMES.get(model_type) or _PROCESSORS[model_type]
    except (ImportError, KeyError):
        name = _PROCESSORS.get(model_type)
    if not name:
        raise RuntimeError(f"no processor known for model type {model_type!r}")
    base = getattr(transformers, name)
    if "video_processor" not in inspect.signature(base.__init__).parameters:
        return base(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template)

    # ProcessorMixin derives its sub-processors from __init__'s signature: leaving video_processor
    # out of it makes the processor image+text only, and passing None satisfies the base __init__.
    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                      chat_template=chat_template, **kwargs)

    image_only = type(f"{name}ImageOnly", (base,), {"__init__": __init__})
    return image_only(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template)


def _load_bundle(folder: str, settings: Settings) -> _Bundle:
    import torch
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    path = Path(folder)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    # local_files_only on every call: the snapshot is complete (model_cache checked it), and a
    # cold start from the cache must not ask the network anything.
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"  # batched generation appends after the prompt
    image_processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
    size = dict(image_processor.size.items()) if hasattr(image_processor.size, "items") else {}
    if size.get("longest_edge"):
        # The processor's own cap (its max_pixels), lowered to VLM_MAX_PIXELS: GPU memory guard.
        size["longest_edge"] = min(size["longest_edge"], settings.vlm_max_pixels)
        image_processor.size = {k: v for k, v in size.items() if v is not None}
    processor = _image_only_processor(config.model_type, image_processor, tokenizer, _chat_template(path, tokenizer))
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True, dtype=dtype)
    model.to(device).eval()
    stop = model.generation_config.eos_token_id
    stop_ids = set(stop if isinstance(stop, (list, tuple)) else [stop] if stop is not None else [])
    if tokenizer.eos_token_id is not None:
        stop_ids.add(tokenizer.eos_token_id)
    log.info("vlm: %s on %s (%s), batch size %d, pages capped at %d pixels, max %d new tokens",
             settings.model_id, device, str(dtype).replace("torch.", ""), settings.vlm_batch_size,
             settings.vlm_max_pixels, settings.max_new_tokens)
    return _Bundle(model=model, processor=processor, device=device, stop_ids=tuple(sorted(stop_ids)))


# -- the engine ------------------------------------------------------------------------------------

class VlmEngine:
    name = "vlm"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = settings.model_id
        self.batch_size = settings.vlm_batch_size
        self._bundle: _Bundle | None = None
        self._report: model_cache.CacheReport | None = None
        self._generate_lock = threading.Lock()  # one GPU: batches run one at a time

    @property
    def revision(self) -> str:
        """The commit hash: the loaded one, else what the cache says (no network), else as configured."""
        if self._report is not None:
            return self._report.revision
        commit = model_cache.local_commit(self.settings.hub_cache_path, self.model, self.settings.model_revision)
        return commit or self.settings.model_revision

    def load(self, wait_seconds: float | None = None) -> model_cache.CacheReport:
        """Resolve, download if need be, and load the model, once per process.

        Concurrent callers wait for the same load, each at most ``wait_seconds`` (default
        MODEL_WAIT_SECONDS; then ModelUnavailable while the load goes on); later calls return at once
        with the same report, marked ``already_loaded``. Raises ModelUnavailable (transient),
        ModelCacheDamaged or EngineFailed (out of memory).
        """
        bundle, report = model_cache.load_once(self.settings, lambda folder: _load_bundle(folder, self.settings),
                                               key="vlm", wait_seconds=wait_seconds)
        if self._bundle is None:
            self._bundle, self._report = bundle, report
        return report

    def _messages(self) -> list[dict]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]},
        ]

    def prepare(self, images: Sequence[Image.Image]):
        """Processor inputs (tensors on the model's device) for a batch of page images."""
        if self._bundle is None:
            self.load()
        bundle = self._bundle
        pages = [fit_image(image, self.settings.vlm_max_pixels) for image in images]
        prompt = bundle.processor.apply_chat_template(self._messages(), tokenize=False, add_generation_prompt=True)
        inputs = bundle.processor(text=[prompt] * len(pages), images=pages, padding=True, return_tensors="pt")
        return inputs.to(bundle.device)

    def _generate(self, images: Sequence[Image.Image], **extra) -> list[tuple[str, bool]]:
        """(decoded text, looped?) per image, from one greedy generate call."""
        import torch

        bundle = self._bundle
        max_new = self.settings.max_new_tokens
        inputs = self.prepare(images)
        with self._generate_lock, torch.inference_mode():
            output = bundle.model.generate(**inputs, max_new_tokens=max_new, do_sample=False, num_beams=1, **extra)
        new_tokens = output[:, inputs["input_ids"].shape[1]:].tolist()
        results = []
        for tokens in new_tokens:
            # Finished rows are padded to the batch's length; their padding is not generation.
            stop_at = next((i for i, t in enumerate(tokens) if t in bundle.stop_ids), None)
            if stop_at is not None:
                tokens = tokens[: stop_at + 1]
            looped = is_runaway(tokens, max_new, bundle.stop_ids)
            if stop_at is None and not looped and len(tokens) >= max_new:
                log.warning("vlm: a page used all %d new tokens (MAX_NEW_TOKENS) without repeating itself; "
                            "its text may be cut short", max_new)
            text = bundle.processor.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            results.append((text, looped))
        return results

    def _refusals(self, images: Sequence[Image.Image]) -> dict[int, str]:
        """{index: why} for the page images the model's processor refuses (each tried alone).

        Qwen2-VL's, for one, raises ValueError for an aspect ratio over 200 (a PDF page shaped like a
        strip): that is the page's fault, and always will be, so it fails that page and no other.
        """
        refused = {}
        for index, image in enumerate(images):
            try:
                self._bundle.processor.image_processor(images=[fit_image(image, self.settings.vlm_max_pixels)],
                                                      return_tensors="pt")
            except ValueError as exc:
                refused[index] = f"page_unreadable: the model cannot take this page image: {exc}"
        return refused

    def _read_batch(self, batch: list[Image.Image]) -> list[tuple[str, bool] | str]:
        """Per image: (text, looped?) from one generate call, or why the image was refused."""
        try:
            return list(self._generate(batch))
        except ValueError:
            refused = self._refusals(batch)
            if not refused:
                raise  # not an image the processor refused: the engine's fault, the caller retries
        readable = [image for index, image in enumerate(batch) if index not in refused]
        generated = iter(self._generate(readable) if readable else [])
        return [refused[index] if index in refused else next(generated) for index in range(len(batch))]

    def ocr_pages(self, images: Sequence[Image.Image]) -> list[PageText]:
        if self._bundle is None:
            self.load()
        pages: list[PageText] = []
        for start in range(0, len(images), self.batch_size):
            batch = list(images[start:start + self.batch_size])
            for offset, read in enumerate(self._read_batch(batch)):
                if isinstance(read, str):
                    log.warning("vlm: page %d of %d refused by the processor: %s", start + offset + 1, len(images), read)
                    pages.append(PageText(text="", error=read))
                    continue
                text, looped = read
                if looped:
                    log.warning("vlm: page %d of %d repeated itself until MAX_NEW_TOKENS; retrying once with %s",
                                start + offset + 1, len(images), RETRY_GENERATION)
                    text, looped = self._generate([batch[offset]], **RETRY_GENERATION)[0]
                page = split_markup(text)
                if looped:
                    page.error = (f"the model repeated itself until MAX_NEW_TOKENS ({self.settings.max_new_tokens}) "
                                  f"twice (also with {RETRY_GENERATION}); the page text is unreliable")
                pages.append(page)
        return pages
