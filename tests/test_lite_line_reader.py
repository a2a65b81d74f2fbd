"""The lite reader (common/engines/line_reader.py, recognition_model.py): its cut vocabulary, 20 px
unpadded batches, and second look at doubtful words, on lines drawn with the shipped font and the
real model."""

from __future__ import annotations

import math
from importlib.resources import files

import numpy as np
import pytest
from PIL import Image, ImageDraw

from common.engines import line_reader, recognition_model
from common.engines.line_reader import HEIGHT, RECHECK_HEIGHT, LineReader
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


def test_the_model_reads_any_height_and_gives_the_shipped_numbers_at_48_px():
    import onnxruntime as ort

    shipped = ort.InferenceSession(str(files("rapidocr") / "models" / recognition_model.MODEL))
    model, _ = recognition_model.load(None)
    edited = ort.InferenceSession(model)
    line = np.random.default_rng(0).uniform(-1, 1, (2, 3, 48, 160)).astype(np.float32)
    np.testing.assert_allclose(edited.run(None, {"x": line})[0], shipped.run(None, {"x": line})[0], atol=1e-5)
    for height in (20, 32, 40):
        assert edited.run(None, {"x": line[:, :, :height]})[0].shape == (2, 20, 18_710)


def test_lines_are_read_at_20_px_and_batches_not_padded(latin, monkeypatch):
    recording = RecordingSession(latin._session)
    monkeypatch.setattr(latin, "_session", recording)
    crops = [drawn_line("Paid"), drawn_line(LINES[0]), drawn_line("Paid")]
    assert [text for text, _ in latin.read(crops)] == ["Paid", LINES[0], "Paid"]
    widths = [math.ceil(HEIGHT * crop.shape[1] / crop.shape[0] * line_reader.SQUEEZE) for crop in crops]
    # The two short lines together, as wide as they are: not rapidocr's 320 px floor, nor the long
    # line's width; the long line alone.
    first_look = [shape for shape in recording.shapes if shape[2] == HEIGHT]
    assert first_look == [(2, 3, HEIGHT, widths[0]), (1, 3, HEIGHT, widths[1])]
    assert HEIGHT == 20 and widths[0] < 320


def test_batches_hold_lines_of_about_one_width():
    widths = [300, 100, 20, 108, 105, 112, 111, 109, 110]
    batches = line_reader._batches(widths)
    # 111 is more than 1.1 times 100: a batch of its own (with 112), not six lines padded to 111.
    assert [[widths[i] for i in batch] for batch in batches] == [[20], [100, 105, 108, 109, 110], [111, 112], [300]]
    assert sorted(i for batch in batches for i in batch) == list(range(len(widths)))
    assert [len(batch) for batch in line_reader._batches([64] * 8)] == [line_reader.BATCH, 2]
    assert line_reader._batches([]) == []


def test_each_word_cut_from_a_line_reads_as_that_word(latin, monkeypatch):
    monkeypatch.setattr(line_reader, "RECHECK", 1.01)  # every word in doubt: each one is cut
    monkeypatch.setattr(line_reader, "KNOWN_WORDS", 0)  # common words too
    text = "Invoice 2024-0117 due 30 June"
    crop = drawn_line(text)
    [reading] = latin._look([crop], HEIGHT, line_reader.SQUEEZE)
    blank = line_reader._blank_columns(crop)
    cuts = [crop[:, slice(*reading.span(start, end, blank))] for start, end in reading.doubtful_words()]
    assert [word.text for word in latin._look(cuts, RECHECK_HEIGHT, 1.0)] == text.split()


def test_only_doubtful_words_are_read_again_at_40_px(latin, monkeypatch):
    recording = RecordingSession(latin._session)
    monkeypatch.setattr(latin, "_session", recording)
    crop = drawn_line(LINES[1])
    latin.read([crop])
    assert [shape[2] for shape in recording.shapes] == [HEIGHT]  # a clean line: one look
    monkeypatch.setattr(line_reader, "RECHECK", 1.01)  # every word in doubt
    monkeypatch.setattr(line_reader, "KNOWN_WORDS", 0)  # common words too
    recording.shapes.clear()
    [(text, _)] = latin.read([crop])
    first, *again = recording.shapes
    assert first[2] == HEIGHT and {shape[2] for shape in again} == {RECHECK_HEIGHT} and RECHECK_HEIGHT == 40
    assert sum(shape[0] for shape in again) == len(LINES[1].split())  # each word once
    assert max(shape[3] for shape in again) < 0.6 * RECHECK_HEIGHT * crop.shape[1] / crop.shape[0]  # words, not the line
    assert text == LINES[1]


def test_a_doubtful_word_spelt_as_a_common_word_is_not_read_again(latin, monkeypatch):
    recording = RecordingSession(latin._session)
    monkeypatch.setattr(latin, "_session", recording)
    monkeypatch.setattr(line_reader, "RECHECK", 1.01)  # every letter in doubt
    [(text, _)] = latin.read([drawn_line("Total 1,149.53 due")])
    first, *again = recording.shapes
    assert text == "Total 1,149.53 due"
    assert sum(shape[0] for shape in again) == 1  # the amount; "Total" and "due" are English words


def test_which_doubtful_words_are_spelt_as_common_words():
    def reading(text: str, doubted: str) -> line_reader.Reading:
        marks = [0.5 if index in {text.index(part) + k for part in doubted.split() for k in range(len(part))}
                 else 0.99 for index in range(len(text))]
        return line_reader.Reading(list(text), marks, [8.0 * i for i in range(len(text))])

    def doubtful(line: line_reader.Reading) -> list[str]:
        return ["".join(line.characters[start:end]) for start, end in line.doubtful_words()]

    # A common word with a doubtful letter is taken as read; a non-word is read again.
    assert doubtful(reading("the transnational markef", "r f")) == ["markef"]
    # A doubtful comma, a doubtful digit, a word of one or two letters and an accent are read again.
    assert doubtful(reading("market, 1892 S of pèople", ", 9 S of è")) == ["market,", "1892", "S", "of", "pèople"]


def test_a_word_read_again_is_kept_only_if_surer(monkeypatch):
    monkeypatch.setattr(line_reader, "KNOWN_WORDS", 0)  # "cat" is an English word
    line = line_reader.Reading(list("the cat"), [0.9, 0.9, 0.9, 1.0, 0.5, 0.9, 0.9], [4, 12, 20, 28, 36, 44, 52])
    surer = line_reader.Reading(list("cot"), [0.95, 0.95, 0.95], [4, 12, 20])
    doubtful = line_reader.Reading(list("cut"), [0.7, 0.7, 0.7], [4, 12, 20])
    assert line.doubtful_words() == [(4, 7)]
    assert line.replaced(4, 7, surer).text == "the cot"
    assert line.replaced(4, 7, doubtful).text == "the cat"
    assert line.replaced(4, 7, line_reader.Reading([], [], [])).text == "the cat"
    assert line.replaced(4, 7, line_reader.Reading([" "], [0.99], [4])).text == "the cat"  # only a space


def test_a_blank_crop_reads_as_nothing(latin):
    assert latin.read([np.full((40, 200, 3), 255, np.uint8)]) == [("", 0.0)]
    assert latin.read([]) == []
