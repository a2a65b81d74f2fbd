"""The recognition model that ships inside the rapidocr wheel (PP-OCRv6 small), made ready for
``line_reader``: able to read lines of any height, its vocabulary cut to the page's scripts.

Both changes are edits of the ONNX graph in memory, made once per engine; nothing is written to disk.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Callable

import numpy as np

MODEL = "PP-OCRv6_rec_small.onnx"


def load(keep: Callable[[str], bool] | None) -> tuple[bytes, list[str]]:
    """The model (bytes) made to read lines of any height, scoring only the classes ``keep`` keeps
    (all when None), and those classes: CTC's blank first, the space last."""
    import onnx  # only here: the model's classes live in its metadata and output layer

    model = onnx.load(str(files("rapidocr") / "models" / MODEL))
    characters = _classes({entry.key: entry.value for entry in model.metadata_props}["character"])
    _any_height(model)
    if keep is not None:
        kept = [0] + [k for k in range(1, len(characters) - 1) if keep(characters[k])] + [len(characters) - 1]
        _cut_vocabulary(model, len(characters), kept)
        characters = [characters[k] for k in kept]
    del model.graph.value_info[:]  # shapes recorded for 48 px lines and the full vocabulary
    return model.SerializeToString(), characters


def _classes(listed: str) -> list[str]:
    """The model's classes: CTC's blank (0), the characters its metadata lists, then a space."""
    return ["", *listed.splitlines(), " "]


def _any_height(model) -> None:
    """Lets the model read lines of any height (``line_reader`` reads them at 20 and 40 px).

    Its backbone divides the height by 16, and one pooling averages the 3 rows left of a 48 px line
    (a 3 x 2 window), so any other height failed. Averaging all the rows left in two steps, 1 x 2
    windows then a mean over the height, gives the same numbers at 48 px and lets a 20 px line
    (2 rows left) through.
    """
    from onnx import helper

    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    nodes = list(model.graph.node)
    pools = [i for i, node in enumerate(nodes) if node.op_type == "AveragePool" and any(
        attribute.name == "kernel_shape" and list(attribute.ints) == [3, 2] for attribute in node.attribute)]
    if len(pools) != 1:
        raise ValueError(f"{MODEL}: expected one 3x2 average pooling over the rows, found {len(pools)}")
    index = pools[0]
    pool = nodes[index]
    columns = pool.output[0] + "/columns"
    replacement = [
        helper.make_node("AveragePool", list(pool.input), [columns], kernel_shape=[1, 2], strides=[1, 2]),
        helper.make_node("ReduceMean", [columns], list(pool.output), axes=[2], keepdims=1),
    ]
    del model.graph.node[:]
    model.graph.node.extend(nodes[:index] + replacement + nodes[index + 1:])


def _cut_vocabulary(model, classes: int, kept: list[int]) -> None:
    """Makes the model's output layer score only the ``kept`` of its ``classes``."""
    from onnx import numpy_helper

    weight, bias = _output_layer(model, classes)
    for tensor in (weight, bias):
        values = numpy_helper.to_array(tensor)
        tensor.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(values[..., kept]), tensor.name))
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[-1].dim_value = len(kept)


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
