"""Reads the text of cropped lines with the recognition model that ships inside the rapidocr wheel.

``line_finder`` finds the lines; this module reads them, not rapidocr, because the choices that
make reading fast are not rapidocr settings (bench/RESULTS.md, figures 9d, 9e and 9f):

- **The vocabulary is cut to the page's scripts** (``recognition_model``). PP-OCRv6's recogniser
  scores 18,710 classes (Chinese, Japanese, Latin) at every step of every line; with
  ``LITE_SCRIPT=latin`` it keeps the ~2,400 Latin, Greek, digit, punctuation and symbol classes,
  so a Latin page pays less and cannot come out with a character of another script at all.
- **Lines are read at ``HEIGHT`` = 20 px**, not the 48 px the model was trained at, stretched to
  ``SQUEEZE`` = 2.0 of their width there. The backbone halves a line's height four times and its
  last, costliest stages run on what is left of it: 4 rows at 25-32 px, 3 at 17-24, so 20 px with
  the letters kept wide costs 0.88 of 32 px at 1.15 (the setting before) for the same words
  (bench/RESULTS.md 9f); below 17 px the letters blur (more doubts, fewer words).
- **Only the doubtful words are read again**, at ``RECHECK_HEIGHT`` = 40 px unsqueezed: a word
  with a letter read below ``RECHECK`` probability (worn type, handwriting) is cut out of its line
  and read larger, and the surer reading kept. Words, not whole lines: a scan can doubt half its
  lines, but few words in each. 40 px reads them as well as the trained 48 px at 0.75 of the cost.
  A doubtful word already spelt as a common English word (only its letters in doubt) is not read
  again: three in four second looks gave back the word first read, nine in ten of those spelt as
  a common word (bench/RESULTS.md 9g).
- **No batch is padded to 320 px.** Lines are sorted by width and read up to ``BATCH`` at a time,
  each batch as wide as its widest line and no wider than ``SPREAD`` times its narrowest, so a
  page of short cells does not pay for long ones, nor a short line for a long neighbour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import onnxruntime as ort

from common.engines import recognition_model
from common.layout.words import ENGLISH, core, is_word

HEIGHT = 20
SQUEEZE = 2.0
RECHECK = 0.9
RECHECK_HEIGHT = 40  # doubtful words are read again at this height, unsqueezed
BATCH = 6
SPREAD = 1.1  # the widest line of a batch at most this times its narrowest
MIN_WIDTH = 16
# A doubtful word spelt as one of this many most frequent English words (3 letters or more) is not
# read again; shorter words are often a misread symbol ("S" for "$", "m" for "1").
KNOWN_WORDS = ENGLISH
KNOWN_LETTERS = 3


@dataclass
class Reading:
    """One look at a line: the characters kept (spaces included), the probability of each, and
    where each was read, as a pixel column of the crop."""

    characters: list[str]
    probabilities: list[float]
    columns: list[float]

    @property
    def text(self) -> str:
        return " ".join("".join(self.characters).split())

    @property
    def confidence(self) -> float:
        return float(np.mean(self.probabilities)) if self.probabilities else 0.0

    def doubtful_words(self) -> list[tuple[int, int]]:
        """[start, end) character ranges of the words with a letter read below ``RECHECK``, bar
        those already spelt as a known word.

        Doubt about a space (one there or not) is common in clean print and no reason to look again.
        """
        words, start = [], None
        for index, character in enumerate([*self.characters, " "]):
            if character != " " and start is None:
                start = index
            elif character == " " and start is not None:
                if min(self.probabilities[start:index]) < RECHECK and not self._known(start, index):
                    words.append((start, index))
                start = None
        return words

    def _known(self, start: int, end: int) -> bool:
        """The word at [start, end) is spelt as a common English word, and only its letters were
        in doubt (a doubtful comma or digit is still worth a second look)."""
        word = core("".join(self.characters[start:end]))
        doubted = [c for c, p in zip(self.characters[start:end], self.probabilities[start:end]) if p < RECHECK]
        return (len(word) >= KNOWN_LETTERS and word.isascii() and word.isalpha()
                and all(c.isalpha() for c in doubted) and is_word(word, KNOWN_WORDS))

    def span(self, start: int, end: int, blank: np.ndarray) -> tuple[int, int]:
        """The crop's columns the word at [start, end) lies in: cut in the widest run of ``blank``
        columns between it and the letters either side (CTC places a letter, or a space, only
        roughly: a cut at a space's step can fall inside the next word's first letter)."""
        letters = [i for i, character in enumerate(self.characters) if character != " "]
        before = [i for i in letters if i < start]
        after = [i for i in letters if i >= end]
        left = _gap(blank, self.columns[before[-1]], self.columns[start]) if before else 0
        right = _gap(blank, self.columns[end - 1], self.columns[after[0]]) if after else len(blank)
        left = min(left, len(blank) - 1)
        return left, min(len(blank), max(left + 1, right))

    def replaced(self, start: int, end: int, word: "Reading") -> "Reading":
        """This reading with the word at [start, end) read as ``word``, if ``word`` is surer."""
        if not word.text or word.confidence <= float(np.mean(self.probabilities[start:end])):
            return self
        columns = [self.columns[start]] * len(word.characters)  # no look goes after this
        return Reading(self.characters[:start] + word.characters + self.characters[end:],
                       self.probabilities[:start] + word.probabilities + self.probabilities[end:],
                       self.columns[:start] + columns + self.columns[end:])


class LineReader:
    def __init__(self, threads: int, keep: Callable[[str], bool] | None = None, *,
                 height: int = HEIGHT, squeeze: float = SQUEEZE):
        """``keep``: which characters the vocabulary keeps (None: all the model knows).
        ``height`` and ``squeeze`` (of the width): how lines are first read (benchmark levers)."""
        self.height, self.squeeze = height, squeeze
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        model, self.characters = recognition_model.load(keep)
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Text and confidence (mean probability of its characters) of each crop (BGR pixels)."""
        readings = self._look(crops, self.height, self.squeeze)
        if (self.height, self.squeeze) != (RECHECK_HEIGHT, 1.0):
            parts, cuts = [], []
            for line, reading in enumerate(readings):
                words = reading.doubtful_words()
                blank = _blank_columns(crops[line]) if words else None
                for start, end in words:
                    left, right = reading.span(start, end, blank)
                    parts.append((line, start, end))
                    cuts.append(crops[line][:, left:right])
            again = self._look(cuts, RECHECK_HEIGHT, 1.0)
            # From the line's end back, so that the ranges of the words before stay true.
            for (line, start, end), part in sorted(zip(parts, again), key=lambda pair: pair[0], reverse=True):
                readings[line] = readings[line].replaced(start, end, part)
        return [(reading.text, reading.confidence) for reading in readings]

    def _look(self, crops: Sequence[np.ndarray], height: int, squeeze: float) -> list[Reading]:
        lines = [_fit(crop, height, squeeze) for crop in crops]
        results = [Reading([], [], [])] * len(lines)
        for chosen in _batches([line.shape[1] for line in lines]):
            width = max(MIN_WIDTH, max(lines[i].shape[1] for i in chosen))
            batch = np.zeros((len(chosen), 3, height, width), np.float32)
            for row, i in enumerate(chosen):
                batch[row, :, :, : lines[i].shape[1]] = lines[i].transpose(2, 0, 1)
            probabilities = self._session.run(None, {self._input: batch})[0]
            for row, i in enumerate(chosen):
                # Each step of the output reads ``width / steps`` pixels of the fitted line.
                pixels_per_step = width / probabilities.shape[1] * crops[i].shape[1] / lines[i].shape[1]
                results[i] = self._decode(probabilities[row], pixels_per_step)
        return results

    def _decode(self, probabilities: np.ndarray, pixels_per_step: float) -> Reading:
        # CTC: the best class per step; repeats fold into one, class 0 is "no character".
        best = probabilities.argmax(axis=1)
        kept = np.flatnonzero((best != 0) & np.concatenate(([True], best[1:] != best[:-1])))
        return Reading([self.characters[k] for k in best[kept]],
                       probabilities[kept, best[kept]].tolist(),
                       ((kept + 0.5) * pixels_per_step).tolist())


def _batches(widths: Sequence[int]) -> list[list[int]]:
    """The lines' indexes in batches of up to ``BATCH``, narrowest first; a batch ends early where
    the next line is more than ``SPREAD`` times as wide as its first (every line is padded to the
    widest: in fixed batches of six, a tenth of a page's columns were padding)."""
    batches: list[list[int]] = []
    for index in sorted(range(len(widths)), key=widths.__getitem__):
        if not batches or len(batches[-1]) == BATCH or widths[index] > SPREAD * widths[batches[-1][0]]:
            batches.append([])
        batches[-1].append(index)
    return batches


def _fit(crop: np.ndarray, height: int, squeeze: float) -> np.ndarray:
    """The crop at ``height`` and ``squeeze`` of its width there, scaled to [-1, 1]."""
    target = max(1, math.ceil(height * crop.shape[1] / crop.shape[0] * squeeze))
    resized = cv2.resize(crop, (target, height), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / 127.5 - 1.0


def _blank_columns(crop: np.ndarray) -> np.ndarray:
    """Which columns of the crop hold no ink (Otsu's threshold on its grey levels)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return ink.sum(axis=0) <= 1


def _gap(blank: np.ndarray, start: float, end: float) -> int:
    """The middle of the widest run of blank columns in [start, end); their middle if none."""
    start, end = int(start), max(int(start) + 1, int(end))
    best, best_length, run = (start + end) // 2, 0, 0
    for column in range(start, min(end, len(blank))):
        run = run + 1 if blank[column] else 0
        if run > best_length:
            best, best_length = column - run // 2, run
    return best
