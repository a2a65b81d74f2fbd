"""The lite reader (common/engines/line_reader.py): its cut vocabulary, squeezed unpadded batches
and second look at doubtful lines, on lines drawn with the shipped font and the real model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.engines import line_reader
from common.engines.line_reader import HEIGHT, LineReader
from common.engines.scripts import is_latin
from tests.pages import font

LINES = ["Invoice 2024-0117 due 30 June", "Total 1,149.53 EUR", "Paid"]


def drawn_line(text: str, size: int = 32) -> np.ndarray:
    """One line of black text on white, cropped as the detector would (BGR pixels)."""
    face = font(size)
    left, top, right, bottom = face.getbbox(text)
    image = Image.new("RGB", (right - left + 24, bottom - top + 20), "white")
    ImageDraw.Draw(image).text((12 - left, 10 - top), text, fill="black", font=face)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


@pytest.fixture(scope="module")
def latin() -> LineReader:
    return LineReader(threads=2, keep=is_latin)


class RecordingSession:
    """The reader's real onnxruntime session, with the input shape of every call written down."""

    def __init__(self, session):
        self.session, self.shapes = session, []

    def run(self, outputs, feeds):
        self.shapes.append(next(iter(feeds.values())).shape)
        return self.session.run(outputs, feeds)


def test_latin_vocabulary_is_cut_to_latin_scripts(latin):
    full = LineReader(threads=1)
    assert len(full.characters) > 18_000
    assert 1_000 < len(latin.characters) < 3_000
    assert {"a", "Z", "7", "é", "ß", "ł", "μ", "Σ", "€", "%", " "} <= set(latin.characters)
    assert not [char for char in latin.characters if "\u2e80" <= char <= "\u9fff"]  # CJK, kana
    assert latin.characters[0] == "" and latin.characters[-1] == " "  # CTC blank, then the space


def test_drawn_lines_read_exactly(latin):
    assert [text for text, _ in latin.read([drawn_line(text) for text in LINES])] == LINES
    assert all(confidence > 0.9 for _, confidence in latin.read([drawn_line(LINES[0])]))


def test_lines_are_squeezed_and_batches_not_padded(latin, monkeypatch):
    recording = RecordingSession(latin._session)
    monkeypatch.setattr(latin, "_session", recording)
    crops = [drawn_line("Paid"), drawn_line("No")]
    latin.read(crops)
    [shape] = recording.shapes  # both in one batch
    squeezed = [math.ceil(HEIGHT * crop.shape[1] / crop.shape[0] * line_reader.SQUEEZE) for crop in crops]
    unsqueezed = [math.ceil(HEIGHT * crop.shape[1] / crop.shape[0]) for crop in crops]
    assert shape[2] == HEIGHT
    # As wide as the widest line squeezed: not the line's full width, nor rapidocr's 320 px floor.
    assert shape[3] == max(squeezed) < 0.75 * max(unsqueezed) < 320


def test_a_doubtful_line_is_read_again_unsqueezed_and_the_surer_reading_kept(latin, monkeypatch):
    squeezes = []
    real_read = latin._read

    def recording_read(crops, squeeze):
        squeezes.append(squeeze)
        return real_read(crops, squeeze)

    monkeypatch.setattr(latin, "_read", recording_read)
    crop = drawn_line(LINES[1])
    latin.read([crop])
    assert squeezes == [line_reader.SQUEEZE]  # a clean line: one look
    monkeypatch.setattr(line_reader, "RECHECK", 1.01)  # every line in doubt
    squeezes.clear()
    [(text, confidence)] = latin.read([crop])
    assert squeezes == [line_reader.SQUEEZE, 1.0]
    readings = [real_read([crop], squeeze)[0] for squeeze in (line_reader.SQUEEZE, 1.0)]
    assert (text, confidence) == max(readings, key=lambda reading: reading[1])[:2]


def test_a_blank_crop_reads_as_nothing(latin):
    assert latin.read([np.full((40, 200, 3), 255, np.uint8)]) == [("", 0.0)]
    assert latin.read([]) == []
