"""The configuration schema: every section and key, with its default, one help line and its range.

This is the only place a default is written. The model zoo's ``train_config`` / ``eval_config``
trees (top-level ``config.py``) are built from it by :func:`train_tree` / :func:`eval_tree`;
``--help`` of every entry point lists its keys from it (``src/config/overrides.py``); the one
validation pass reads its ranges (``src/config/checks.py``); and the settings objects of the
feature, augmentation and beam-search code are these dataclasses (or subclasses adding derived
values), built with :meth:`Section.from_config`, so no second copy of a default exists.

Keys and defaults are the MindSpore model zoo's, so a zoo user finds what they know; "(new)" in a
help line marks a key beyond the zoo. Nothing of the zoo's is renamed.
"""
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, Iterator, List, Optional, get_type_hints

from easydict import EasyDict

from src.data.labels import DEFAULT_LABELS_PATH

# The allowed names of the keys that choose between implementations; the modules that act on them
# import these tuples.
DECODER_TYPES = ("greedy", "beam")
ON_BAD_SAMPLE = ("skip", "error")
RNN_TYPES = ("lstm",)
ACTIVATIONS = ("tanh", "hardtanh", "relu")
CONV_IMPLS = ("auto", "direct", "dft")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("zoo", "anneal", "cosine", "constant")
FEATURE_NORMALIZE = ("utterance", "band")

# Named model sizes (new): ModelConfig (hidden_size, hidden_layers). "full" is the model zoo's
# 86.6 M network; the smaller ones make CPU training practical.
MODEL_SIZES = {
    "full": {"hidden_size": 1024, "hidden_layers": 5},
    "medium": {"hidden_size": 512, "hidden_layers": 4},
    "small": {"hidden_size": 256, "hidden_layers": 3},
    "tiny": {"hidden_size": 64, "hidden_layers": 2},
}


@dataclass(frozen=True)
class Rule:
    """The values a key allows: ``allows(value)``, and ``allowed`` says which ("> 0", "one of ...")."""
    allows: Callable[[Any], bool]
    allowed: str
    choices: tuple = ()  # for a closed set of names: shown as the option's metavar


def at_least(low: float) -> Rule:
    return Rule(lambda v: v >= low, f">= {low}")


def one_of(*names: str) -> Rule:
    """A name from ``names``, in any letter case (the zoo writes "LSTM")."""
    return Rule(lambda v: str(v).lower() in names, "one of " + ", ".join(names), names)


POSITIVE = Rule(lambda v: v > 0, "> 0")
FRACTION = Rule(lambda v: 0 <= v <= 1, "between 0 and 1")
PROBABILITY_MASS = Rule(lambda v: 0 < v <= 1, "in (0, 1]")
ADAM_BETAS = Rule(lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)")
FILE_NAME = Rule(lambda v: bool(v) and "/" not in v, "a non-empty file name")


def key(default: Any, help: str, rule: Optional[Rule] = None, not_above: str = "") -> Any:
    """A config key: its default, one help line, its allowed values, and (``not_above``) the key of the
    same section that bounds it from above (``speed_min`` <= ``speed_max``)."""
    metadata = {"help": help, "rule": rule, "not_above": not_above}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def same_key(section: type, name: str) -> Any:
    """Key ``name`` of another section, default, help and range included: a shared key is stated once."""
    stated = section.__dataclass_fields__[name]
    if stated.default_factory is not MISSING:
        return field(default_factory=stated.default_factory, metadata=stated.metadata)
    return field(default=stated.default, metadata=stated.metadata)


def subsection(cls: type) -> Any:
    """A section inside a section. Its field is annotated with the class name as a string
    (``SpectConfig: "SpectConfig"``): the zoo names a section like its class, and a bare name would
    be read after the class body has bound it to this field; :func:`field_types` resolves it."""
    return field(default_factory=cls)


@lru_cache(maxsize=None)
def field_types(cls: type) -> Dict[str, Any]:
    """A schema dataclass's field types, string annotations resolved."""
    return get_type_hints(cls)


class Section:
    """Base of the schema's dataclasses."""

    @classmethod
    def from_config(cls, section) -> "Section":
        """The section of a config tree (dict / EasyDict) as this dataclass; every key is read, none
        has a fallback, so a missing key is an error rather than a second default."""
        types = field_types(cls)
        return cls(**{f.name: _typed(types[f.name], section[f.name]) for f in fields(cls)})


def _typed(kind: Any, value: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, Section):
        return kind.from_config(value)
    if kind in (bool, int, float, str):
        return kind(value)
    return list(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class TrainingConfig(Section):
    """The training loop."""
    epochs: int = key(70, "passes over the training manifest", at_least(1))
    seed: int = key(1, "(new) random seed: initial weights, batch order, augmentation", at_least(0))
    log_interval: int = key(1, "(new) print a loss line (and a metrics record) every N steps", at_least(1))
    run_dir: str = key("", "(new) run folder: config, versions, metrics.jsonl (src/training/run_log.py); "
                           "'' = <ckpt_path>/run")
    tensorboard: bool = key(False, "(new) also write TensorBoard event files to <run_dir>/tensorboard")
    max_nonfinite_steps: int = key(20, "(new) stop after this many NaN/inf steps in a row (0 = never)", at_least(0))
    memory_check: bool = key(True, "(new) estimate the peak memory before compiling and refuse a run that would not "
                                   "fit, naming the flag that makes it fit (src/training/memory_budget.py)")


@dataclass(frozen=True)
class SpectConfig(Section):
    """The spectrogram: train and eval share these values."""
    sample_rate: int = key(16000, "audio sample rate (Hz)", POSITIVE)
    window_size: float = key(0.02, "STFT window length (s)", POSITIVE)
    window_stride: float = key(0.01, "STFT hop (s)", POSITIVE)
    # The zoo's eval config said "hanning", which differs from training and crashes on current SciPy.
    window: str = key("hamming", "STFT window, a SciPy window name (train and eval share it)")
    n_mels: int = key(0, "(new) 0 = the zoo's linear-frequency bins (n_fft / 2 + 1, log1p of magnitudes); N = N "
                         "log-mel bands (log of mel-filtered power; the checkpoint records it)", at_least(0))
    normalize: str = key("utterance", "(new) utterance = one mean and std per utterance (zoo); band = per frequency "
                                      "band over the utterance, which removes a speaker's and a channel's spectral "
                                      "tilt (the checkpoint records it)", one_of(*FEATURE_NORMALIZE))


@dataclass(frozen=True)
class AugmentationConfig(Section):
    """Training-time augmentation (src/data/augment.py); the zoo had some of these keys but read none."""
    speed_volume_perturb: bool = key(False, "random speed and gain per utterance")
    speed_min: float = key(0.9, "(new) speed factor range: low", POSITIVE, not_above="speed_max")
    speed_max: float = key(1.1, "(new) speed factor range: high", POSITIVE)
    gain_min: float = key(-6.0, "(new) gain range (dB): low", not_above="gain_max")
    gain_max: float = key(8.0, "(new) gain range (dB): high")
    spec_augment: bool = key(False, "SpecAugment: mask frequency bands and time spans")
    freq_masks: int = key(2, "(new) SpecAugment frequency masks ...", at_least(0))
    freq_mask_width: int = key(15, "(new) ... of up to this many bins", at_least(0))
    time_masks: int = key(2, "(new) SpecAugment time masks ...", at_least(0))
    time_mask_ratio: float = key(0.05, "(new) ... of up to this fraction of the utterance", FRACTION)
    noise_dir: str = key("", "add noise from the audio files in this folder; '' = off")
    noise_prob: float = key(0.4, "probability that an utterance gets noise", FRACTION)
    noise_min: float = key(0.0, "noise level range (relative to the speech RMS): low", at_least(0),
                           not_above="noise_max")
    noise_max: float = key(0.5, "noise level range: high (0.5 = SNR 6 dB, 0.1 = 20 dB)")
    vtlp: bool = key(False, "(new) vocal tract length perturbation (frequency-axis warp), for new speakers")
    vtlp_min: float = key(0.9, "(new) VTLP warp factor range: low", POSITIVE, not_above="vtlp_max")
    vtlp_max: float = key(1.1, "(new) VTLP warp factor range: high", POSITIVE)


@dataclass(frozen=True)
class TrainDataConfig(Section):
    """train_config.DataConfig: manifests, labels, batching and what to do with unusable entries."""
    train_manifest: str = key("data/libri_train_manifest.csv", "training manifest (CSV of wav,txt paths, or JSON)")
    val_manifest: str = key("", "(new in effect: commented out in the zoo) validated each epoch when set")
    batch_size: int = key(20, "utterances per batch", at_least(1))
    # The zoo's default "labels.json" meant the one beside the code; absolute, so that runs from
    # another folder (msrun workers, launchers) find it too.
    labels_path: str = key(DEFAULT_LABELS_PATH, "labels.json: the output symbols, blank last")
    num_workers: int = key(2, "(new) feature-extraction worker processes", at_least(0))
    feature_cache_dir: str = key("", "(new) keep clean spectrograms here across epochs and runs "
                                     "(src/data/feature_cache.py); '' = off")
    max_duration: float = key(0.0, "(new) drop training utterances longer than this (s); 0 = keep all", at_least(0))
    pad_multiple: int = key(64, "(new) pad time to a multiple of this many frames (few graph shapes)", at_least(1))
    max_static_shapes: int = key(8, "(new) more padded widths than this -> dynamic time axis (memory)", at_least(0))
    bucket_pool: int = key(0, "(new) 0 = batches from the fully duration-sorted set; N = sort within random "
                              "pools of N batches (1 = random batches, for isolated words)", at_least(0))
    sortagrad: bool = key(False, "(new) SortaGrad (DS2 paper): the first epoch's batches in length order, shortest "
                                 "first; later epochs shuffled")
    label_pad_length: int = key(0, "(new) fixed CTC label length; 0 = the longest label in the manifest", at_least(0))
    on_bad_sample: str = key("skip", "(new) unusable manifest entries: skip (and report) or error "
                                     "(src/data/sample_check.py)", one_of(*ON_BAD_SAMPLE))
    convert_audio: bool = key(True, "(new) resample/downmix other rates and channel counts (warned); "
                                    "false = a bad sample")
    SpectConfig: "SpectConfig" = subsection(SpectConfig)
    AugmentationConfig: "AugmentationConfig" = subsection(AugmentationConfig)


@dataclass(frozen=True)
class EvalDataConfig(Section):
    """eval_config.DataConfig: the test manifest; the other keys as in train_config."""
    test_manifest: str = key("data/libri_test_clean_manifest.csv", "manifest to evaluate")
    batch_size: int = same_key(TrainDataConfig, "batch_size")
    labels_path: str = same_key(TrainDataConfig, "labels_path")
    num_workers: int = same_key(TrainDataConfig, "num_workers")
    pad_multiple: int = same_key(TrainDataConfig, "pad_multiple")
    max_static_shapes: int = same_key(TrainDataConfig, "max_static_shapes")
    on_bad_sample: str = same_key(TrainDataConfig, "on_bad_sample")
    convert_audio: bool = same_key(TrainDataConfig, "convert_audio")
    SpectConfig: "SpectConfig" = subsection(SpectConfig)


@dataclass(frozen=True)
class ModelConfig(Section):
    """The network (src/model/deepspeech2.py); --model_size sets hidden_size and hidden_layers at once."""
    rnn_type: str = key("LSTM", "recurrent layer type (only LSTM is implemented)", one_of(*RNN_TYPES))
    hidden_size: int = key(1024, "LSTM width", at_least(1))
    hidden_layers: int = key(5, "bidirectional LSTM layers", at_least(1))
    lookahead_context: int = key(20, "kept for compatibility: only the bidirectional model exists")
    activation: str = key("tanh", "(new) conv activation: tanh (model zoo), hardtanh (deepspeech.pytorch, 0..20) "
                                  "or relu", one_of(*ACTIVATIONS))
    rnn_batch_norm: bool = key(False, "(new) BatchNorm between the LSTM layers (deepspeech.pytorch; not in the zoo)")
    conv_impl: str = key("auto", "(new) how the convs are computed: auto = as MatMuls on CPU (conv1 banded, conv2 "
                                 "through the DFT: no oneDNN convolution, same weights and outputs; conv2 direct under a "
                                 "dynamic time axis, for memory), nn.Conv2d on GPU/Ascend; direct = nn.Conv2d; "
                                 "dft = the MatMul forms everywhere, dynamic axes too",
                         one_of(*CONV_IMPLS))
    fc_batch_norm: bool = key(False, "(new) BatchNorm1d before the output layer (deepspeech.pytorch; not in the zoo)")


@dataclass(frozen=True)
class OptimConfig(Section):
    """The optimiser and its learning-rate schedule."""
    optimizer: str = key("adam", "(new) adam, adamw, or sgd (momentum, nesterov)", one_of(*OPTIMIZERS))
    learning_rate: float = key(3e-4, "initial learning rate", POSITIVE)
    lr_schedule: str = key("zoo", "(new) zoo (constant, then /learning_anneal per epoch in the 2nd half), anneal "
                                  "(/learning_anneal every epoch), cosine (warm-up + cosine) or constant",
                           one_of(*LR_SCHEDULES))
    warmup_steps: int = key(0, "(new) linear warm-up steps (all schedules)", at_least(0))
    learning_anneal: float = key(1.1, "divisor of the learning rate per annealed epoch", POSITIVE)
    weight_decay: float = key(1e-5, "weight decay of the weight matrices", at_least(0))
    momentum: float = key(0.9, "SGD momentum", FRACTION)
    eps: float = key(1e-8, "kept for the zoo (Adam's eps is epsilon)")
    betas: List[float] = key([0.9, 0.999], "Adam's beta1, beta2", ADAM_BETAS)
    # The zoo divided the gradients by it only, shrinking every update.
    loss_scale: int = key(1024, "static loss scale: the loss is multiplied by it and the gradients divided by "
                                "it, so in fp32 it changes nothing", POSITIVE)
    epsilon: float = key(1e-5, "Adam's eps (the zoo passes this one)", POSITIVE)
    max_grad_norm: float = key(400.0, "(new) global-norm gradient clipping (deepspeech.pytorch's 400); 0 = off",
                               at_least(0))
    accum_grad: int = key(1, "(new) batches per optimiser update (gradient accumulation, PaddleSpeech's accum_grad): "
                             "their averaged gradients make one update, an effective batch of accum_grad x "
                             "batch_size at one batch's memory; BatchNorm still sees batch_size; the LR schedule "
                             "counts updates", at_least(1))


@dataclass(frozen=True)
class CheckpointConfig(Section):
    """Checkpoint files: <ckpt_path>/<prefix>-<epoch>_<step>.ckpt."""
    ckpt_file_name_prefix: str = key("DeepSpeech", "checkpoint file name prefix", FILE_NAME)
    ckpt_path: str = key("./checkpoint", "checkpoint folder")
    keep_checkpoint_max: int = key(10, "keep the newest N checkpoints of the series (<= 0 keeps all)")
    save_checkpoint_steps: int = key(0, "(new) also save every N steps; 0 = at each epoch end only", at_least(0))


@dataclass(frozen=True)
class LMConfig(Section):
    """Decoding (src/decoding): greedy, or CTC prefix beam search scoring log P_ctc + alpha * ln P_lm +
    beta * words with a KenLM n-gram LM (ARPA or binary)."""
    decoder_type: str = key("greedy", "greedy or beam", one_of(*DECODER_TYPES))
    lm_path: str = key("./3-gram.pruned.3e-7.arpa", "KenLM n-gram LM for the beam search; '' = none")
    top_paths: int = key(1, "n-best size (eval's JSON lists them when > 1)", at_least(1), not_above="beam_width")
    alpha: float = key(1.818182, "LM weight")
    beta: float = key(0.0, "word insertion bonus")
    cutoff_top_n: int = key(40, "per frame, extend at most this many characters ...", at_least(1))
    cutoff_prob: float = key(1.0, "... and only those within this cumulative probability", PROBABILITY_MASS)
    beam_width: int = key(1024, "beams kept per frame", at_least(1))
    lm_workers: int = key(4, "processes decoding a batch's utterances", at_least(1))
    token_min_logp: float = key(-5.0, "(new) skip characters below this log-probability (the best is kept)")
    beam_prune_logp: float = key(-10.0, "(new) drop beams this far (natural log) below the best")
    unk_score_offset: float = key(-10.0, "(new) log10 penalty for a word outside the LM's vocabulary")


@dataclass(frozen=True)
class TrainConfig(Section):
    """The model zoo's train_config."""
    TrainingConfig: "TrainingConfig" = subsection(TrainingConfig)
    DataConfig: "TrainDataConfig" = subsection(TrainDataConfig)
    ModelConfig: "ModelConfig" = subsection(ModelConfig)
    OptimConfig: "OptimConfig" = subsection(OptimConfig)
    CheckpointConfig: "CheckpointConfig" = subsection(CheckpointConfig)


@dataclass(frozen=True)
class EvalConfig(Section):
    """The model zoo's eval_config (also read by export.py, transcribe.py and src.tools.tune_decoder)."""
    save_output: str = key("", "pickle the network outputs to <save_output>.bin, for src.tools.tune_decoder; "
                               "'' = off (the zoo's default was librispeech_val_output)")
    verbose: bool = key(True, "print Ref/Hyp per utterance")
    DataConfig: "EvalDataConfig" = subsection(EvalDataConfig)
    ModelConfig: "ModelConfig" = subsection(ModelConfig)
    LMConfig: "LMConfig" = subsection(LMConfig)


def as_tree(config: Section) -> EasyDict:
    """A schema instance as the zoo's nested EasyDict (keys in schema order)."""
    return EasyDict(asdict(config))


def train_tree() -> EasyDict:
    """A fresh ``train_config`` with the schema's defaults."""
    return as_tree(TrainConfig())


def eval_tree() -> EasyDict:
    """A fresh ``eval_config`` with the schema's defaults."""
    return as_tree(EvalConfig())


@dataclass(frozen=True)
class Key:
    """One leaf of a config tree, as the schema states it."""
    path: str  # below the tree's root: "DataConfig.SpectConfig.sample_rate"
    type: Any
    default: Any
    help: str
    rule: Optional[Rule]
    not_above: str  # full path of the key bounding this one from above, or ""


def keys(schema: type, prefix: str = "") -> Iterator[Key]:
    """Every key of ``schema`` (a schema dataclass), depth first, in declaration order."""
    types = field_types(schema)
    for f in fields(schema):
        path, kind = prefix + f.name, types[f.name]
        if is_dataclass(kind):
            yield from keys(kind, path + ".")
        else:
            default = f.default if f.default_factory is MISSING else f.default_factory()
            bound = prefix + f.metadata["not_above"] if f.metadata["not_above"] else ""
            yield Key(path, kind, default, f.metadata["help"], f.metadata["rule"], bound)


# Every key of both trees by path; a path both trees have is one shared key (same_key / subsection).
KEYS: Dict[str, Key] = {k.path: k for root in (TrainConfig, EvalConfig) for k in keys(root)}
