"""Deployment formats of the inference network (export.py): MindSpore's MINDIR, dynamic or fixed, and
AIR (``mindir``); a standard ONNX graph (``onnx_graph``) and its INT8 form (``quantize``), which ONNX
Runtime runs without MindSpore (``src/inference/onnx_predictor.py``).

The graph's input and output names are defined here, where both the graph builder (which needs
MindSpore to read the network) and the runtime (which must not import it) find them.
"""
ONNX_INPUTS = ("spectrogram", "lengths")              # [B, 1, bins, T] float32, [B] int32
ONNX_OUTPUTS = ("probabilities", "output_lengths")    # [B, T', classes] float32, [B] int32
