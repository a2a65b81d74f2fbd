"""Reads the text of cropped lines with the recognition model that ships inside the rapidocr wheel.

``line_finder`` finds the lines; this module reads them, not rapidocr, because the three choices
that make reading fast are not rapidocr settings (bench/RESULTS.md, figure 9d):

- **The vocabulary is cut to the page's scripts.** PP-OCRv6's recogniser scores 18,710 classes
  (Chinese, Japanese, Latin) at every step of every line; with ``LITE_SCRIPT=latin`` its output
  layer keeps the ~2,400 Latin, Greek, digit, punctuation and symbol classes, so a Latin page
  pays less and cannot come out with a character of another script at all.
- **Lines are squeezed to ``SQUEEZE`` of their width.** At the model's 48 px height a printed
  letter spans about three of its 8 px steps; two are enough to read it, and the cost of a line
  is linear in its width.
- **No batch is padded to 320 px.** Lines are sorted by width and read ``BATCH`` at a time, each
  batch as wide as its widest line, so a page of short cells does not pay for long ones.
"""

from __future__ import annotations

import math
from importlib.resources import files
from typing import Callable, Sequence

import cv2
import numpy as np
import onnxruntime as ort

MODEL = "PP-OCRv6_rec_small.onnx"
HEIGHT = 48  # the model's input height
SQUEEZE = 0.7
RECHECK = 0.6
BATCH = 6
MIN_WIDTH = 16


class LineReader:
    def __init__(self, threads: int, keep: Callable[[str], bool] | None = None, *, squeeze: float = SQUEEZE):
        """``keep``: which characters the vocabulary keeps (None: all the model knows)."""
        self.squeeze = squeeze
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = str(files("rapidocr") / "models" / MODEL)
        if keep is None:
            self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            self.characters = _classes(self._session.get_modelmeta().custom_metadata_map["character"])
        else:
            model, self.characters = _cut_vocabulary(path, keep)
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Text and confidence (mean probability of its characters) of each crop (BGR pixels).

        A line with a character (not a space) read at less than ``RECHECK`` probability is read again
        unsqueezed, and the surer reading kept: handwriting and worn type can need every pixel
        of their width.
        """
        readings = self._read(crops, self.squeeze)
        doubtful = [i for i, (_, _, least) in enumerate(readings) if least < RECHECK]
        if self.squeeze < 1.0 and doubtful:
            for i, again in zip(doubtful, self._read([crops[i] for i in doubtful], 1.0)):
                readings[i] = max(readings[i], again, key=lambda reading: reading[1])
        return [(text, confidence) for text, confidence, _ in readings]

    def _read(self, crops: Sequence[np.ndarray], squeeze: float) -> list[tuple[str, float, float]]:
        """(text, mean and least probability of its characters) of each crop."""
        lines = [_fit(crop, squeeze) for crop in crops]
        results: list[tuple[str, float, float]] = [("", 0.0, 0.0)] * len(lines)
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
        for start in range(0, len(order), BATCH):
            chosen = order[start:start + BATCH]
            width = max(MIN_WIDTH, max(lines[i].shape[1] for i in chosen))
            batch = np.zeros((len(chosen), 3, HEIGHT, width), np.float32)
            for row, i in enumerate(chosen):
                batch[row, :, :, : lines[i].shape[1]] = lines[i].transpose(2, 0, 1)
            probabilities = self._session.run(None, {self._input: batch})[0]
            for row, i in enumerate(chosen):
                results[i] = self._decode(probabilities[row])
        return results

    def _decode(self, probabilities: np.ndarray) -> tuple[str, float, float]:
        # CTC: the best class per step; repeats fold into one, class 0 is "no character".
        best = probabilities.argmax(axis=1)
        kept = (best != 0) & np.concatenate(([True], best[1:] != best[:-1]))
        if not kept.any():
            return "", 0.0, 0.0
        text = " ".join("".join(self.characters[k] for k in best[kept]).split())
        chosen = probabilities[kept, best[kept]]
        # Doubt about a space (one there or not) is common in clean print and no reason to look again.
        letters = chosen[best[kept] != len(self.characters) - 1]
        return text, float(chosen.mean()), float(letters.min()) if letters.size else 1.0


def _fit(crop: np.ndarray, squeeze: float) -> np.ndarray:
    """The crop at the model's height and ``squeeze`` of its width there, scaled to [-1, 1]."""
    height, width = crop.shape[:2]
    target = max(1, math.ceil(HEIGHT * width / height * squeeze))
    resized = cv2.resize(crop, (target, HEIGHT), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / 127.5 - 1.0


def _classes(listed: str) -> list[str]:
    """The model's classes: CTC's blank (0), the characters its metadata lists, then a space."""
    return ["", *listed.splitlines(), " "]


def _cut_vocabulary(path: str, keep: Callable[[str], bool]) -> tuple[bytes, list[str]]:
    """A copy of the model (bytes) that scores only the classes ``keep`` keeps, and those classes."""
    import onnx  # only here: the model's classes live in its metadata and output layer
    from onnx import numpy_helper

    model = onnx.load(path)
    characters = _classes({entry.key: entry.value for entry in model.metadata_props}["character"])
    kept = [0] + [k for k in range(1, len(characters) - 1) if keep(characters[k])] + [len(characters) - 1]
    weight, bias = _output_layer(model, len(characters))
    for tensor in (weight, bias):
        values = numpy_helper.to_array(tensor)
        tensor.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(values[..., kept]), tensor.name))
    del model.graph.value_info[:]  # shapes recorded for the full vocabulary
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[-1].dim_value = len(kept)
    return model.SerializeToString(), [characters[k] for k in kept]


def _output_layer(model, classes: int):
    """The weight and bias initialisers of the layer that scores the ``classes`` (MatMul, Add)."""
    initialisers = {tensor.name: tensor for tensor in model.graph.initializer}
    nodes = list(model.graph.node)
    for index in range(len(nodes) - 1, 0, -1):
        node = nodes[index]
        if node.op_type == "MatMul" and node.input[1] in initialisers \
                and initialisers[node.input[1]].dims[-1] == classes:
            add = next(n for n in nodes[index + 1:] if n.op_type == "Add" and node.output[0] in n.input)
            bias = next(name for name in add.input if name in initialisers)
            return initialisers[node.input[1]], initialisers[bias]
    raise ValueError(f"{MODEL}: no output layer (MatMul + Add) found")
