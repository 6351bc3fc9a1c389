"""INT8 weights for the ONNX model, through ONNX Runtime's dynamic quantization, for small devices.

Dynamic quantization needs no calibration data: the LSTM and MatMul weights are stored as int8
with one scale per tensor (the file shrinks about 4x), and activations are quantized on the fly
at each call (``DynamicQuantizeLSTM``, ``DynamicQuantizeLinear`` + ``MatMulInteger``). The conv
weights stay float32 by default: they are 0.3 % of the full model's parameters, and ONNX Runtime
1.32's ``ConvInteger`` ran 4x slower than its float ``Conv`` on this CPU.

Weights use 7 of the 8 bits (``reduce_range``): on x86 CPUs without VNNI (AVX2 or AVX-512 alone)
ONNX Runtime multiplies uint8 by int8 with an instruction that saturates int16 sums, and with full
8-bit weights the outputs of a test network agreed with float32 on only 52 % of the frames (AMD Zen
3, AVX2); with 7 bits, 94 %. A scale per output channel gained 1.5 points more there but cut the
INT8 speed-up from 4.1x to 2.9x on that CPU (docs/speed.md), so the scale stays per tensor.

As activations are scaled per call, an utterance's INT8 output depends slightly on the other
utterances of its batch; the float32 model's does not.
"""
import logging
import os
from contextlib import contextmanager
from typing import Iterator, Sequence

from onnxruntime.quantization import QuantType, quantize_dynamic

from src.common.files import atomic_path

DEFAULT_OP_TYPES = ("LSTM", "MatMul")


@contextmanager
def _without_preprocess_advice() -> Iterator[None]:
    """quantize_dynamic logs a warning that advises shape-inference pre-processing on every call;
    it is meant for static quantization (here it took 14 s and changed nothing)."""
    class Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    drop = Drop()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def quantize_int8(fp32_path: str, int8_path: str, op_types: Sequence[str] = DEFAULT_OP_TYPES) -> str:
    """Write the INT8 form of the float32 ONNX model ``fp32_path`` to ``int8_path`` (atomically)."""
    if os.path.abspath(fp32_path) == os.path.abspath(int8_path):
        raise ValueError(f"{int8_path}: the INT8 model needs its own file name, not the float32 model's")
    with atomic_path(int8_path) as tmp, _without_preprocess_advice():
        quantize_dynamic(fp32_path, tmp, op_types_to_quantize=list(op_types), weight_type=QuantType.QInt8,
                         reduce_range=True)
    return int8_path
