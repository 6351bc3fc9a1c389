"""Every DeepSpeech2 checkpoint a user may bring, converted in memory to this network's parameters.

A checkpoint is read as a dict ``name -> NumPy array`` (plus ints/strings of metadata); this module
renames and unpacks it into our parameter names (``src/model/deepspeech2.py``) and checks it
*strictly* against the network: every network parameter must come from the file, and a file tensor
with nowhere to go is named. MindSpore's ``load_param_into_net`` only warns about parameters it did
not fill, which is how a zoo checkpoint of another generation used to leave the LSTMs random.
No MindSpore here: the tools and the tests use it on plain arrays.

Generations (``GENERATIONS``):

- **MindSpore >= 1.6** (the zoo after its Dec 2021 "unify ... by nn.LSTM" change, and this
  toolkit): ``RNN.lstms.<i>.{weight,bias}_{ih,hh}_l0[_reverse]``, the names ``nn.LSTM`` gives
  its parameters. Our names: used as they are.
- **'rnn.' prefix**: zoo files whose RNN stack is called ``rnn``; the zoo's eval renamed it, so do we.
- **MindSpore <= 1.5** (the zoo's hand-written LSTM stack, published with r1.3): one flat
  ``RNN.weight<i>`` of shape (W, 1, 1) per bidirectional layer, in the layout of the LSTM kernel of
  the device it was trained on (``FLAT_LAYOUTS``). Facts and where they come from:

  * The zoo's r1.3/r1.5 ``official/audio/deepspeech2/src/deepspeech2.py`` (``BatchRNN``) sizes
    layer i's tensor ``(I_i + H) * H * 2 * 4`` plus biases ``2 * 4H * 2`` on GPU, ``2 * 4H`` on any
    other device, with I_0 = the conv output (1312) and I_i = H after (directions are summed).
    So W = 8H(I + H) + 16H (GPU) or 8H(I + H) + 8H (CPU): the size tells the two apart.
  * CPU: MindSpore's ``lstm_cpu_kernel.cc`` (``backend/kernel_compiler/cpu/mkldnn``, the 1.x
    kernel the zoo ran; unchanged in 2.x's ``plugin/device/cpu/kernel/mkldnn``) hands the tensor
    to oneDNN as weights_layer ``ldgoi`` {layers, directions, I, 4, H}, then weights_iter
    ``ldgoi`` {.., H, 4, H}, then one bias ``ldgo`` {.., 4, H}: W_ih fwd, W_ih bwd, W_hh fwd,
    W_hh bwd, b fwd, b bwd, each matrix (4H, I) row-major like ``nn.LSTM``'s, gates i, f, g, o
    (oneDNN's order, the same as ``nn.LSTM``'s). The one bias is b_ih + b_hh; we load it as
    b_ih and set b_hh to 0 (our network adds them). The test feeds such a tensor to ``ops.LSTM``.
  * GPU: the zoo's own converter ``research/audio/FastSpeech/src/import_ckpt/import_deepspeech2.py``
    cuts each ``RNN.weight<i>`` into ``nn.LSTM``'s parameters taken in the order
    [0, 2, 1, 3, 4, 6, 5, 7] of ``nn.LSTM.trainable_params()`` (w_ih, w_ih_rev, w_hh, w_hh_rev,
    b_ih, b_ih_rev, b_hh, b_hh_rev): W_ih fwd, W_hh fwd, W_ih bwd, W_hh bwd, b_ih fwd, b_hh fwd,
    b_ih bwd, b_hh bwd (cuDNN's canonical layout: all matrices, then all biases; gates i, f, g, o).
- **Optimizer state** (``moment1.*``, ``beta1_power``, ``global_step``, ``learning_rate``, ...):
  the network part is used, the rest reported as ignored (``is_optimizer_state``).
- **deepspeech.pytorch** V2 ``.pth`` / V3 Lightning ``.ckpt`` state dicts
  (:func:`deepspeech_pytorch_params`, used by ``python -m src.tools.convert_checkpoint``).

Fine-tuning onto another label set is the one sanctioned exception to strictness:
``reset_output_layer=True`` lets only the output layer (``fc.*``) be missing or mis-shaped.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from src.common.errors import CheckpointError
from src.model.geometry import rnn_input_size

# What MindSpore's optimizers, loss-scale cells and ModelCheckpoint save beside the network
# (names read from mindspore/nn/optim and nn/wrap: Adam, AdamWeightDecay, SGD/Momentum, Lamb, RMSProp, ...).
OPTIMIZER_PREFIXES = ("moment1.", "moment2.", "moments.", "moment.", "accum.", "accu_grads.", "accum_update.",
                      "adam_m.", "adam_v.", "lamb_m.", "lamb_v.", "exp_avg.", "mean_grad.", "mean_square.",
                      "linear.", "vhat.", "stat.", "prev.", "step_size.", "ax_.")
OPTIMIZER_NAMES = frozenset(("beta1_power", "beta2_power", "global_step", "learning_rate", "momentum",
                             "scale_sense", "loss_scale", "current_iterator_step", "last_overflow_iterator_step",
                             "epoch_num", "step_num"))

GEN_MS16 = "MindSpore >= 1.6 (nn.LSTM parameter names)"
GEN_MS15_GPU = "MindSpore <= 1.5 model zoo (flat LSTM weights, GPU/cuDNN layout)"
GEN_MS15_CPU = "MindSpore <= 1.5 model zoo (flat LSTM weights, CPU/oneDNN layout)"
RNN_PREFIX_NOTE = ", 'rnn.' prefix"
GENERATIONS = (GEN_MS16, GEN_MS16 + RNN_PREFIX_NOTE, GEN_MS15_GPU, GEN_MS15_CPU)

_DIRECTIONS = ("", "_reverse")
# The pieces of one layer's flat tensor, in order; "bias" is the one bias of a direction (b_ih + b_hh).
FLAT_LAYOUTS = {
    "gpu": ("weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
            "bias_ih_l0", "bias_hh_l0", "bias_ih_l0_reverse", "bias_hh_l0_reverse"),
    "cpu": ("weight_ih_l0", "weight_ih_l0_reverse", "weight_hh_l0", "weight_hh_l0_reverse",
            "bias_ih_l0", "bias_ih_l0_reverse"),
}
_BIASES_PER_DIRECTION = {"gpu": 2, "cpu": 1}
_FLAT = re.compile(r"^RNN\.weight(\d+)$")
_LSTM = re.compile(r"^RNN\.lstms\.(\d+)\.weight_ih_l0$")
OUTPUT_LAYER = "fc."  # the label-dependent layer, the only one --reset_output_layer may reinitialise
OUTPUT_WEIGHT = "fc.module.weight"
FC_NORM = "fc_norm.module."  # ModelConfig.fc_batch_norm: BatchNorm1d before the output layer


@dataclass(frozen=True)
class Architecture:
    """What a set of parameters says about the network that holds them."""
    hidden_size: int
    hidden_layers: int
    num_classes: int
    rnn_input_size: int
    rnn_batch_norm: bool
    fc_batch_norm: bool

    def describe(self) -> str:
        norms = [what for flag, what in ((self.rnn_batch_norm, "batch norm between the LSTM layers"),
                                         (self.fc_batch_norm, "batch norm before the output layer")) if flag]
        return f"{self.hidden_layers} x BiLSTM-{self.hidden_size}, {self.num_classes} classes" + \
            "".join(", " + n for n in norms)


@dataclass
class LoadReport:
    """How a file became network parameters: its generation and what was left out, and why."""
    generation: str
    meta: Dict[str, object] = field(default_factory=dict)
    optimizer_state: List[str] = field(default_factory=list)  # recognised, ignored
    reset: List[str] = field(default_factory=list)  # output-layer parameters left to their initial values

    def optimizer_text(self) -> str:
        """'50 entries (global_step, learning_rate, beta1_power, beta2_power, moment1.*, moment2.*)', or ''."""
        if not self.optimizer_state:
            return ""
        return f"{len(self.optimizer_state)} entries ({_listed(_families(self.optimizer_state), 8)})"

    def summary(self) -> str:
        parts = [self.generation]
        if self.optimizer_state:
            parts.append(f"ignored optimizer state: {self.optimizer_text()}")
        if self.reset:
            parts.append(f"output layer reinitialised ({', '.join(self.reset)})")
        return "; ".join(parts)


def _listed(names: Sequence[str], limit: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _families(names: Sequence[str]) -> List[str]:
    """``moment1.conv.conv1.weight``, ``moment1.fc...`` -> ``moment1.*``; plain names stay."""
    seen = []
    for name in names:
        family = name.split(".", 1)[0] + ".*" if "." in name else name
        if family not in seen:
            seen.append(family)
    return seen


def is_optimizer_state(name: str) -> bool:
    return name in OPTIMIZER_NAMES or name.startswith(OPTIMIZER_PREFIXES)


def as_arrays(param_dict: Mapping) -> Dict[str, object]:
    """A loaded checkpoint (MindSpore Parameters, tensors, arrays, strings) as arrays and strings."""
    out = {}
    for name, value in param_dict.items():
        if isinstance(value, str):
            out[name] = value
        elif hasattr(value, "asnumpy"):
            out[name] = value.asnumpy()
        else:
            out[name] = np.asarray(value)
    return out


def is_meta(value) -> bool:
    """Strings and scalars are what ``append_dict`` saves beside the tensors (epoch, step, activation,
    origin, best_wer, ...); no network parameter is 0-d, so no list of metadata names is needed."""
    return isinstance(value, str) or np.ndim(value) == 0


def read_meta(file_dict: Mapping) -> Dict[str, object]:
    """The metadata entries (not optimizer state): strings as str, scalars as int or float."""
    meta = {}
    for name, value in file_dict.items():
        if is_optimizer_state(name) or not is_meta(value):
            continue
        if isinstance(value, str):
            meta[name] = value
        else:
            number = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)
            meta[name] = int(number) if np.issubdtype(number.dtype, np.integer) else float(number)
    return meta


def _unpack_flat_layer(flat: np.ndarray, layer: int, hidden: int, input_size: int,
                       layout: str) -> Dict[str, np.ndarray]:
    """One bidirectional layer's ``nn.LSTM`` parameters from its flat tensor (``FLAT_LAYOUTS``)."""
    gate = 4 * hidden
    shapes = {"weight_ih": (gate, input_size), "weight_hh": (gate, hidden), "bias_ih": (gate,), "bias_hh": (gate,)}
    values = np.asarray(flat, dtype=np.float32).reshape(-1)
    out, offset = {}, 0
    for name in FLAT_LAYOUTS[layout]:
        shape = shapes[name.split("_l0")[0]]
        size = int(np.prod(shape))
        out[f"RNN.lstms.{layer}.{name}"] = values[offset:offset + size].reshape(shape).copy()
        offset += size
    if layout == "cpu":  # one bias per direction: it is b_ih + b_hh
        for d in _DIRECTIONS:
            out[f"RNN.lstms.{layer}.bias_hh_l0{d}"] = np.zeros(gate, np.float32)
    return out


def _flat_layout(sizes: Dict[int, int], hidden: int, first_input: int, source: str) -> Tuple[str, Dict[int, int]]:
    """The device layout of a <= 1.5 file and each layer's input size, from the tensors' sizes.

    Layers after the first have input H, so their size fixes the layout; a one-layer file is
    read with the expected first input (the conv output).
    """
    def bias_terms(size: int, input_size: int) -> float:
        return size / (8 * hidden) - input_size - hidden  # 2 = GPU, 1 = CPU

    found = {bias_terms(size, hidden) for layer, size in sizes.items() if layer > 0}
    if not found:
        found = {bias_terms(sizes[0], first_input)}
    layouts = [layout for layout, n in _BIASES_PER_DIRECTION.items() if {float(n)} == found]
    if not layouts:
        raise CheckpointError(
            f"{source}: the flat LSTM weights (RNN.weight<i>, {', '.join(str(s) for s in sizes.values())} values) "
            f"fit neither the GPU size 8H(I+H)+16H nor the CPU size 8H(I+H)+8H of a BiLSTM-{hidden} "
            f"(H from fc.module.weight)")
    layout = layouts[0]
    extra = _BIASES_PER_DIRECTION[layout]
    inputs = {layer: size // (8 * hidden) - hidden - extra for layer, size in sizes.items()}
    if any(size % (8 * hidden) or inputs[layer] < 1 for layer, size in sizes.items()):
        raise CheckpointError(f"{source}: RNN.weight<i> sizes {list(sizes.values())} are not those of "
                              f"BiLSTM-{hidden} layers in the {layout.upper()} layout")
    return layout, inputs


def canonical_params(file_dict: Mapping, first_input: int = 0,
                     source: str = "the checkpoint") -> Tuple[Dict[str, np.ndarray], LoadReport]:
    """The file's network tensors under our names, and a report (generation, metadata, optimizer state).

    Tensors this module does not recognise are kept under their own names, so that the strict
    check names them. ``first_input`` is the first LSTM's input size (default: the zoo's 1312).
    """
    meta = read_meta(file_dict)
    network, optimizer = {}, []
    for name, value in file_dict.items():
        if is_optimizer_state(name):
            optimizer.append(name)
        elif name not in meta:
            network[name] = value
    generation = GEN_MS16
    if not any(k.startswith("RNN.") for k in network) and any(k.startswith("rnn.") for k in network):
        network = {("RNN." + k[4:] if k.startswith("rnn.") else k): v for k, v in network.items()}
        prefix_note = RNN_PREFIX_NOTE
    else:
        prefix_note = ""
    flat = {int(m.group(1)): name for name in network for m in [_FLAT.match(name)] if m}
    if flat:
        if OUTPUT_WEIGHT not in network:
            raise CheckpointError(f"{source} holds flat LSTM weights (RNN.weight<i>) but no {OUTPUT_WEIGHT}, "
                                  "so their hidden size cannot be told")
        hidden = int(np.shape(network[OUTPUT_WEIGHT])[1])
        if sorted(flat) != list(range(len(flat))):
            raise CheckpointError(f"{source}: the flat LSTM weights are not RNN.weight0 ... RNN.weight{len(flat) - 1}")
        sizes = {layer: int(np.size(network[name])) for layer, name in flat.items()}
        layout, inputs = _flat_layout(sizes, hidden, first_input or rnn_input_size(), source)
        for layer, name in flat.items():
            network.update(_unpack_flat_layer(network.pop(name), layer, hidden, inputs[layer], layout))
        generation = GEN_MS15_GPU if layout == "gpu" else GEN_MS15_CPU
    params = {k: np.asarray(v, dtype=np.float32) for k, v in network.items()}
    return params, LoadReport(generation + prefix_note, meta, optimizer)


def architecture(shapes: Mapping[str, Sequence[int]], source: str = "the checkpoint") -> Architecture:
    """The network a set of our parameter names and shapes (or arrays) describes."""
    shapes = {k: v if isinstance(v, tuple) else tuple(np.shape(v)) for k, v in shapes.items()}
    if OUTPUT_WEIGHT not in shapes:
        raise CheckpointError(f"{source} holds no DeepSpeech2 network (no '{OUTPUT_WEIGHT}')")
    layers = sorted(int(m.group(1)) for k in shapes for m in [_LSTM.match(k)] if m)
    if not layers:
        raise CheckpointError(f"{source} holds no DeepSpeech2 LSTM weights (neither RNN.lstms.<i>.weight_ih_l0 "
                              "nor the flat RNN.weight<i>)")
    if layers != list(range(len(layers))):
        raise CheckpointError(f"{source}: its LSTM layers are numbered {layers}, not 0 ... {len(layers) - 1} "
                              "(a layer is missing)")
    classes, hidden = shapes[OUTPUT_WEIGHT]
    return Architecture(hidden_size=int(hidden), hidden_layers=len(layers), num_classes=int(classes),
                        rnn_input_size=int(shapes["RNN.lstms.0.weight_ih_l0"][1]) if 0 in layers else 0,
                        rnn_batch_norm=any(k.startswith("RNN.norms.") for k in shapes),
                        fc_batch_norm=any(k.startswith(FC_NORM) for k in shapes))


def _arch_text(shapes: Mapping, source: str) -> str:
    try:
        return architecture(shapes, source).describe()
    except CheckpointError:
        return "no complete DeepSpeech2 network"


def to_network_params(file_dict: Mapping, network_param_shapes: Mapping[str, Sequence[int]],
                      reset_output_layer: bool = False,
                      source: str = "the checkpoint") -> Tuple[Dict[str, np.ndarray], LoadReport]:
    """Every network parameter's value from ``file_dict``, or a CheckpointError in one sentence.

    ``file_dict``: name -> array (or int/string metadata), any generation. ``network_param_shapes``:
    the network's parameter names -> shapes. Returns arrays for all of them, except the output
    layer's when ``reset_output_layer`` lets it be missing or mis-shaped (listed in ``report.reset``;
    the caller keeps the network's initial values for them).
    """
    expected = {name: tuple(int(d) for d in shape) for name, shape in network_param_shapes.items()}
    first = expected.get("RNN.lstms.0.weight_ih_l0", (0, 0))[1]
    params, report = canonical_params(file_dict, first, source)
    missing = [n for n in expected if n not in params]
    extra = [n for n in params if n not in expected]
    wrong = [n for n in expected if n in params and np.shape(params[n]) != expected[n]]
    if reset_output_layer:
        report.reset = [n for n in expected if n.startswith(OUTPUT_LAYER) and (n in missing or n in wrong)]
        missing = [n for n in missing if n not in report.reset]
        wrong = [n for n in wrong if n not in report.reset]
        extra = [n for n in extra if not n.startswith(OUTPUT_LAYER)]
    if missing or extra or wrong:
        problems = ([f"missing: {_listed(missing)}"] if missing else []) + \
                   ([f"not in this network: {_listed(extra)}"] if extra else []) + \
                   ([f"shape mismatch: " + _listed([f"{n} {np.shape(params[n])} in the checkpoint, {expected[n]} here"
                                                    for n in wrong], 3)] if wrong else [])
        hint = ""
        if not missing and not extra and all(n.startswith(OUTPUT_LAYER) for n in wrong):
            hint = " (another labels.json? --reset_output_layer starts a new output layer for fine-tuning)"
        raise CheckpointError(f"{source} does not fit this network ({_arch_text(expected, 'the network')}): it "
                              f"holds {_arch_text(params, source)} ({report.generation}); "
                              f"{'; '.join(problems)}{hint}")
    return {n: params[n] for n in expected if n not in report.reset}, report


# --- deepspeech.pytorch (SeanNaren) ---------------------------------------------------------------
# Its network (deepspeech_pytorch/model.py, V2 model.py alike) differs from the zoo's in ways ours
# expresses with options: conv layers with biases (folded into the batch norms' moving means:
# BN(conv + b) = BN'(conv) with mean' = mean - b, exact at inference), hardtanh(0, 20)
# (activation "hardtanh"), BatchNorm1d on the input of every LSTM layer after the first
# (rnn_batch_norm: same place, over the features of each frame), a BatchNorm1d before the output
# layer (fc_batch_norm) and the blank first among the labels (rows permuted to ours).
_DSP_CONV = {"conv.seq_module.0.": ("conv.conv1.", "conv.bn1."), "conv.seq_module.3.": ("conv.conv2.", "conv.bn2.")}
_DSP_BN = {"conv.seq_module.1.": "conv.bn1.", "conv.seq_module.4.": "conv.bn2.", "fc.0.module.0.": FC_NORM}
_DSP_BN_FIELDS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
_DSP_LSTM = re.compile(r"^rnns\.(\d+)\.rnn\.((?:weight|bias)_(?:ih|hh)_l0(?:_reverse)?)$")
_DSP_RNN_BN = re.compile(r"^rnns\.(\d+)\.batch_norm\.module\.(\w+)$")
_DSP_FC = "fc.0.module.1.weight"


def deepspeech_pytorch_params(state: Mapping[str, np.ndarray], their_labels: Sequence[str],
                              our_labels: Sequence[str], blank: str = "_", source: str = "the model",
                              bidirectional: bool = True) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """A deepspeech.pytorch state dict under our names, and the training counters left out.

    Refuses (one sentence) a unidirectional/lookahead model (``bidirectional`` False in the file's
    own metadata, or its tensors say so), GRU/RNN layers, other labels and tensors it does not know.
    """
    their_labels = list(their_labels)
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    if not bidirectional or any(k.startswith("lookahead.") for k in state) \
            or "rnns.0.rnn.weight_ih_l0_reverse" not in state:
        raise CheckpointError(f"{source} is a unidirectional deepspeech.pytorch model (lookahead context); "
                              "only bidirectional models can be converted")
    hidden = int(np.shape(state["rnns.0.rnn.weight_hh_l0"])[1])
    gates = int(np.shape(state["rnns.0.rnn.weight_hh_l0"])[0]) // hidden
    if gates != 4:
        kind = {3: "GRU", 1: "plain RNN"}.get(gates, f"{gates}-gate")
        raise CheckpointError(f"{source} has {kind} layers; only LSTM models can be converted")
    missing_labels = [c for c in our_labels if c not in their_labels]
    unknown_labels = [c for c in their_labels if c not in our_labels]
    if missing_labels or unknown_labels:
        raise CheckpointError(f"{source} was trained on other labels than ours (only in the model: "
                              f"{''.join(unknown_labels)!r}; only in our labels.json: {''.join(missing_labels)!r})")
    if blank not in their_labels:
        raise CheckpointError(f"{source}: its labels have no blank {blank!r}")
    out, ignored, biases = {}, [], {}
    for name, value in state.items():
        value = np.asarray(value)
        lstm, rnn_bn = _DSP_LSTM.match(name), _DSP_RNN_BN.match(name)
        head, _, leaf = name.rpartition(".")
        head += "."
        if leaf == "num_batches_tracked":
            ignored.append(name)
        elif lstm:
            out[f"RNN.lstms.{lstm.group(1)}.{lstm.group(2)}"] = value
        elif rnn_bn and int(rnn_bn.group(1)) > 0 and rnn_bn.group(2) in _DSP_BN_FIELDS:
            out[f"RNN.norms.{int(rnn_bn.group(1)) - 1}.module.{_DSP_BN_FIELDS[rnn_bn.group(2)]}"] = value
        elif head in _DSP_CONV and leaf in ("weight", "bias"):
            if leaf == "weight":
                out[_DSP_CONV[head][0] + "weight"] = value
            else:
                biases[_DSP_CONV[head][1]] = value
        elif head in _DSP_BN and leaf in _DSP_BN_FIELDS:
            out[_DSP_BN[head] + _DSP_BN_FIELDS[leaf]] = value
        elif name == _DSP_FC:
            rows = [their_labels.index(c) for c in our_labels]
            out[OUTPUT_WEIGHT] = value[rows]
        else:
            raise CheckpointError(f"{source}: tensor {name} {tuple(value.shape)} is not part of a bidirectional "
                                  "deepspeech.pytorch DeepSpeech2 model")
    for bn, bias in biases.items():
        if bn + "moving_mean" not in out:
            raise CheckpointError(f"{source}: conv bias without the batch norm after it ({bn}running_mean)")
        out[bn + "moving_mean"] = out[bn + "moving_mean"] - bias
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}, ignored


def feature_mismatch(theirs: Mapping[str, object], ours: Mapping[str, object]) -> str:
    """'' if the spectrogram settings agree, else which differ, e.g. "sample_rate 8000 (ours 16000)"."""
    aliases = {"hanning": "hann"}
    diffs = []
    for key in ("sample_rate", "window_size", "window_stride", "window"):
        if key not in theirs:
            continue  # an older file that does not record it: the defaults were ours
        a, b = theirs[key], ours[key]
        if key == "window":
            same = aliases.get(str(a).lower(), str(a).lower()) == aliases.get(str(b).lower(), str(b).lower())
        else:
            same = abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
        if not same:
            diffs.append(f"{key} {a} (ours {b})")
    return ", ".join(diffs)
