"""The training loop, one named step per stage, in the order the data flows.

    train(cfg, opts)
      prepare_data            manifests -> checked utterances, validation set, label padding,
                              augmentation, steps per epoch                             -> TrainData
      build_training          network, LR array, optimiser, TrainStep (static or dynamic time
                              axis), the predictor that validates                       -> Training
      restore                 --resume: parameters, optimiser moments, LR position, epoch/step
                              and the best validation WER so far                        -> Progress
      for each epoch:
        train_one_epoch       batches -> TrainStep -> loss lines; periodic checkpoints; a signal
                              or too many non-finite steps in a row save and stop (with
                              accum_grad > 1 each batch adds its gradients, and every accum_grad-th
                              batch, and an epoch's last, applies them: AccumulatingTrainStep)
        validate_and_keep_best  WER on the validation set, save the epoch's checkpoint, copy it to
                              <prefix>-best.ckpt if no earlier epoch did better

Resume is exact: parameters, optimiser moments and the optimiser's global step (hence the LR
position) come from the checkpoint, and the batch order of an epoch depends only on
``seed + epoch``, so the resumed run continues with exactly the batches it had not seen. Every
checkpoint's meta also records the best validation WER so far (an epoch is validated before its
checkpoint is written), so a resumed run never replaces ``<prefix>-best.ckpt`` by a worse model.

Host synchronisation: the loss and gradient norm are read every step, and the batch-norm running
statistics copied before it, for the non-finite guard (src/training/guard.py); the loss line and
the run log reuse those values. On the CPU the graph call returns when the step is done, so the
reads wait for nothing: 23-39 us per step with the statistics copy, 0.03 % of a tiny-model step and
0.008 % of a small one, and steps with and without them take the same time within the noise
(``python -m benchmarks.bench_host_sync``).
"""
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import mindspore as ms
import numpy as np
from tqdm import tqdm

from src.common.errors import CheckpointError
from src.common.files import atomic_copy
from src.common.signals import TrainingInterrupted, stop_requested
from src.data.augment import AugmentParams
from src.data.batching import BatchSource, create_dataset, load_utterances, make_batches
from src.data.feature_cache import FeatureCache
from src.data.features import SpectParams, check_recorded_features, feature_meta
from src.data.labels import Labels
from src.data.sample_check import SamplePolicy, Utterance
from src.evaluation.evaluate import evaluate, needs_dynamic_time
from src.model.checkpoint import (checkpoint_architecture, checkpoint_name, describe_mismatch, has_rnn_batch_norm,
                                  latest_checkpoint, load_network_params, load_param_dict, parameter_digest,
                                  prune_checkpoints, read_meta, save_checkpoint)
from src.model.checkpoint_formats import GEN_MS16
from src.model.deepspeech2 import DeepSpeechModel, PredictWithSoftmax, build_model, count_parameters
from src.model.shapes import choose_isa_for_dynamic_time, declare_dynamic_time, padded_widths
from src.training.guard import NonFiniteGuard
from src.training.lr_schedule import get_lr, per_batch, updates_per_epoch
from src.training.memory_budget import Planner, check_memory
from src.training.run_log import RunLog, open_run_log
from src.training.step import TrainStep, build_train_step


@dataclass
class TrainOptions:
    """What the command line decides beyond the config tree."""
    pre_trained_model_path: str = ""
    resume: str = ""  # a checkpoint path, or "auto" for the newest in ckpt_path
    reset_output_layer: bool = False  # with pre_trained_model_path: a new output layer (another labels.json)
    rank: int = 0
    group_size: int = 1


@dataclass
class TrainData:
    """What :func:`prepare_data` reads once: the utterances and how they become batches."""
    labels: Labels
    params: SpectParams  # spectrogram settings: F = params.n_bins frequency bins
    utts: List[Utterance]  # the training set, checked by the sample policy
    val_utts: List[Utterance]  # the validation set ([] without val_manifest)
    label_pad: int  # L: every batch's labels are [B, L], blank-padded
    augment: AugmentParams
    feature_cache: Optional[FeatureCache]
    steps_per_epoch: int  # this rank's batches per epoch


@dataclass
class Training:
    """What :func:`build_training` makes: the network and the graphs that train and validate it."""
    network: DeepSpeechModel
    train_step: TrainStep  # (x [B, 1, F, T], lengths [B], labels [B, L], weights [B]) -> (loss, gradient norm)
    predictor: PredictWithSoftmax  # (x, lengths) -> (probabilities [T', B, classes], lengths [B])
    lr: np.ndarray  # one learning rate per optimiser update: [epochs * updates per epoch]
    accum_grad: int = 1  # batches per update; > 1: train_step is an AccumulatingTrainStep


@dataclass
class Progress:
    """Where the run is and the best validation WER so far: what every checkpoint's meta records."""
    epoch: int = 1  # the epoch being trained, from 1
    step: int = 0  # steps of it done
    best_wer: float = math.inf
    best_checkpoint: str = ""  # the file name of the checkpoint that scored best_wer
    last_loss: float = math.nan  # the last logged loss (not saved)

    def meta(self) -> Dict:
        """The checkpoint meta entries; the WER as text, exactly (MindSpore keeps floats as float32)."""
        best = {"best_wer": repr(self.best_wer), "best_checkpoint": self.best_checkpoint} if self.best_checkpoint else {}
        return {"epoch": self.epoch, "step": self.step, **best}

    @classmethod
    def from_meta(cls, meta: Dict, steps_per_epoch: int) -> "Progress":
        """Where to continue after the checkpoint with ``meta``: its next step."""
        epoch, step = meta.get("epoch", 1), meta.get("step", 0)
        if step >= steps_per_epoch:
            epoch, step = epoch + 1, 0
        return cls(epoch, step, float(meta.get("best_wer", math.inf)), meta.get("best_checkpoint", ""))


@dataclass
class Checkpoints:
    """The run's checkpoint series ``<prefix>-<epoch>_<step>.ckpt`` and its ``<prefix>-best.ckpt``."""
    folder: str
    prefix: str
    keep: int  # keep_checkpoint_max: the newest N of the series (<= 0 keeps all)
    every: int  # save_checkpoint_steps: also save every N steps within an epoch (0: epoch ends only)
    meta: Dict  # facts of the series: steps per epoch, activation
    saved: List[str] = field(default_factory=list)

    @property
    def last(self) -> str:
        return self.saved[-1] if self.saved else ""

    @property
    def best(self) -> str:
        return os.path.join(self.folder, f"{self.prefix}-best.ckpt")


@dataclass
class Loop:
    """What the epochs share: the position, the checkpoints, the non-finite guard and the reporting."""
    main: bool  # rank 0: prints, saves and validates; the other data-parallel ranks only train
    progress: Progress
    checkpoints: Checkpoints
    guard: NonFiniteGuard
    bar: tqdm  # the progress bar (on a terminal, rank 0)
    run_log: Optional[RunLog]  # rank 0 only


def log(message: str) -> None:
    tqdm.write(message, file=sys.stdout)
    sys.stdout.flush()


def record_seen(rank: int, epoch: int, utts, batches) -> None:
    """With DS2_RECORD_SEEN=<dir>, append what this rank trained on, per epoch (to check sharding)."""
    folder = os.environ.get("DS2_RECORD_SEEN")
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"seen-rank{rank}.txt"), "a", encoding="utf-8") as fh:
            fh.writelines(f"{epoch}\t{utts[i].wav_path}\n" for members in batches for i in members)


def train(cfg, opts: TrainOptions) -> dict:
    """Train as configured; returns a summary (last loss, best WER, checkpoint paths)."""
    epochs, batch_size = int(cfg.TrainingConfig.epochs), int(cfg.DataConfig.batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs ({epochs}) and batch_size ({batch_size}) must be >= 1")
    # The same seed on every rank, so data-parallel replicas start from identical parameters;
    # the data's randomness (augmentation) is keyed by (seed, epoch, utterance), so it differs per
    # utterance whichever rank reads it, and does not change with the number of ranks.
    ms.set_seed(int(cfg.TrainingConfig.seed))
    np.random.seed(int(cfg.TrainingConfig.seed))

    data = prepare_data(cfg, opts)
    training = build_training(cfg, data, opts)
    progress, resumed_from = restore(cfg, opts, training, data)
    loop = start_loop(cfg, opts, data, training, progress, resumed_from)
    for epoch in range(progress.epoch, epochs + 1):
        train_one_epoch(cfg, opts, data, training, loop, epoch)
        validate_and_keep_best(cfg, data, training, loop, epoch)
    loop.bar.close()
    if loop.run_log:
        loop.run_log.close()
    if opts.group_size > 1:
        log(f"rank {opts.rank}: parameter digest {parameter_digest(training.network)}")  # equal on every rank when in sync
    return {"last_loss": progress.last_loss, "best_wer": progress.best_wer, "checkpoints": loop.checkpoints.saved,
            "steps_per_epoch": data.steps_per_epoch}


def prepare_data(cfg, opts: TrainOptions) -> TrainData:
    """Labels, feature settings, the checked training and validation utterances, and the batch plan."""
    data_cfg = cfg.DataConfig
    labels = Labels.load(data_cfg.labels_path)
    params = SpectParams.from_config(data_cfg.SpectConfig)
    log(f"features: {params.describe()}")
    policy = SamplePolicy.from_config(data_cfg, max_duration=float(data_cfg.max_duration),
                                      max_label_length=int(data_cfg.label_pad_length))
    utts, report = load_utterances(data_cfg.train_manifest, labels, params, policy=policy)
    log(report.summary())
    if not utts:
        raise ValueError(f"{data_cfg.train_manifest}: no usable training utterances")
    val_utts = []
    if data_cfg.val_manifest:
        val_utts, val_report = load_utterances(data_cfg.val_manifest, labels, params,
                                               policy=SamplePolicy.from_config(data_cfg))
        log(val_report.summary())
    augment = AugmentParams.from_config(data_cfg.AugmentationConfig)
    if augment.enabled:
        log(f"augmentation: {augment}")
    steps_per_epoch = len(make_batches(utts, int(data_cfg.batch_size), rank=opts.rank, group_size=opts.group_size,
                                       bucket_pool=int(data_cfg.bucket_pool)))
    return TrainData(labels, params, utts, val_utts,
                     label_pad=int(data_cfg.label_pad_length) or max(len(u.ids) for u in utts), augment=augment,
                     feature_cache=FeatureCache(data_cfg.feature_cache_dir, params) if data_cfg.feature_cache_dir else None,
                     steps_per_epoch=steps_per_epoch)


def build_training(cfg, data: TrainData, opts: TrainOptions) -> Training:
    """The network (fresh, or from --pre_trained_model_path), its LR schedule, optimiser and training step.

    Graph mode compiles one graph per input shape; data with more padded widths than
    ``max_static_shapes`` gets one graph with a dynamic time axis instead (src/model/shapes.py).
    """
    data_cfg, optim_cfg, model_cfg = cfg.DataConfig, cfg.OptimConfig, cfg.ModelConfig
    batch_size = int(data_cfg.batch_size)
    network = build_model(model_cfg, len(data.labels), data.params.n_bins)
    log(f"model: {model_cfg.hidden_layers} x BiLSTM-{model_cfg.hidden_size}, "
        f"{count_parameters(network):,} trainable parameters")
    if opts.group_size > 1:
        log(f"rank {opts.rank}: initial parameter digest {parameter_digest(network)}")
        log(f"data parallel: rank {opts.rank} of {opts.group_size}, batch {batch_size} per rank, "
            f"effective batch {batch_size * opts.group_size}, {data.steps_per_epoch} steps per epoch")
    if opts.pre_trained_model_path:
        state = load_param_dict(opts.pre_trained_model_path)
        check_recorded_features(read_meta(state), data.params, opts.pre_trained_model_path)
        report = load_network_params(network, state, opts.pre_trained_model_path, opts.reset_output_layer)
        log(f"initialised from {opts.pre_trained_model_path} ({report.summary()})")
    accum_grad = int(optim_cfg.accum_grad)
    updates = updates_per_epoch(data.steps_per_epoch, accum_grad)
    lr = get_lr(float(optim_cfg.learning_rate), int(cfg.TrainingConfig.epochs), updates,
                str(optim_cfg.lr_schedule), float(optim_cfg.learning_anneal), int(optim_cfg.warmup_steps))
    train_step = build_train_step(network, optim_cfg, lr)
    if accum_grad > 1:
        log(f"gradient accumulation: {accum_grad} batches of {batch_size} per update, effective batch "
            f"{accum_grad * batch_size * opts.group_size}, {updates} updates per epoch")
    stretch = 1.0 / data.augment.speed_min if data.augment.speed_volume_perturb else 1.0
    widths = padded_widths([u.frames for u in data.utts], int(data_cfg.pad_multiple), stretch)
    if widths > int(data_cfg.max_static_shapes):
        declare_dynamic_time(train_step, batch_size, data.params.n_bins, data.label_pad)
        log(f"up to {widths} padded widths > max_static_shapes {data_cfg.max_static_shapes}: dynamic time axis")
    # validation's time axis, known now: oneDNN's ISA is fixed once training has run
    if opts.rank == 0 and needs_dynamic_time(data.val_utts, int(data_cfg.pad_multiple), int(data_cfg.max_static_shapes)):
        choose_isa_for_dynamic_time(network, why="validation (conv2 with a dynamic time axis)")
    # the estimated peak memory (calibrated on the CPU), before anything compiles: a run that cannot fit is
    # refused here, naming the flag that makes it fit
    if ms.get_context("device_target") == "CPU":
        planner = Planner(data.utts, data.val_utts if opts.rank == 0 else [], count_parameters(network),
                          int(model_cfg.hidden_size), int(model_cfg.hidden_layers), int(data_cfg.pad_multiple),
                          int(data_cfg.bucket_pool), stretch, data.params.sample_rate / data.params.hop, opts.rank,
                          opts.group_size, data.params.n_bins)
        check_memory(planner, batch_size, int(data_cfg.max_static_shapes), int(data_cfg.num_workers),
                     bool(cfg.TrainingConfig.memory_check), log, accum_grad=accum_grad)
    return Training(network, train_step, PredictWithSoftmax(network), lr, accum_grad)


def restore(cfg, opts: TrainOptions, training: Training, data: TrainData) -> Tuple[Progress, str]:
    """With --resume (a checkpoint, or "auto": the newest in ckpt_path), load it into the training step.

    Returns where to continue, with the best validation WER so far, and the checkpoint ("" when
    starting fresh).
    """
    folder = cfg.CheckpointConfig.ckpt_path
    path = latest_checkpoint(folder, cfg.CheckpointConfig.ckpt_file_name_prefix) if opts.resume == "auto" else opts.resume
    if opts.resume == "auto" and not path:
        log(f"--resume auto: no checkpoint in {folder}, starting fresh")
    if not path:
        return Progress(), ""
    progress = load_training_state(training.train_step, path, cfg.ModelConfig, data.steps_per_epoch,
                                   training.accum_grad, data.params)
    log(f"resumed from {path}: epoch {progress.epoch}, step {progress.step}")
    return progress, path


def load_training_state(train_step: TrainStep, path: str, model_cfg, steps_per_epoch: int,
                        accum_grad: int = 1, params: SpectParams = SpectParams()) -> Progress:
    """Load a training checkpoint into ``train_step`` (parameters, optimiser moments, global step).

    The LR array comes from this run's config (its position from the restored global step), so a
    run can be resumed with more epochs.
    """
    state = load_param_dict(path)
    meta = read_meta(state)
    check_recorded_features(meta, params, path)
    arch, report = checkpoint_architecture(state, path)
    if report.generation != GEN_MS16 or not report.optimizer_state:
        raise CheckpointError(f"{path} is not a training checkpoint of this toolkit ({report.generation}"
                              f"{'' if report.optimizer_state else ', no optimizer state'}): --resume continues "
                              "this toolkit's runs; start from it with --pre_trained_model_path")
    hidden, layers = arch.hidden_size, arch.hidden_layers
    written = int(meta.get("accum_grad", 1))
    if written != accum_grad:  # the optimiser's step counts updates: the LR position
        raise ValueError(f"{path} was written with accum_grad {written}, the config says {accum_grad}: "
                         f"resume with --accum_grad {written}")
    mismatch = describe_mismatch(train_step, state, ignore=("learning_rate",))
    if (hidden, layers) != (int(model_cfg.hidden_size), int(model_cfg.hidden_layers)):
        raise ValueError(f"{path} holds a {layers} x {hidden} model, the config says "
                         f"{model_cfg.hidden_layers} x {model_cfg.hidden_size} ({mismatch})")
    if has_rnn_batch_norm(state) != bool(model_cfg.rnn_batch_norm):
        raise ValueError(f"{path}: rnn_batch_norm differs from the config ({model_cfg.rnn_batch_norm})")
    if mismatch:  # e.g. another labels.json, or a network-only file (fine-tune with --pre_trained_model_path)
        raise CheckpointError(f"{path} cannot be resumed with this config ({mismatch})")
    state.pop("learning_rate", None)
    ms.load_param_into_net(train_step, state)
    if meta.get("steps_per_epoch", steps_per_epoch) != steps_per_epoch:
        raise ValueError(f"{path} was written with {meta['steps_per_epoch']} steps per epoch, "
                         f"this data/batch size gives {steps_per_epoch}")
    return Progress.from_meta(meta, steps_per_epoch)


def start_loop(cfg, opts: TrainOptions, data: TrainData, training: Training, progress: Progress,
               resumed_from: str) -> Loop:
    """The checkpoint series, the non-finite guard, the progress bar and (rank 0) the run log."""
    ckpt_cfg, is_main = cfg.CheckpointConfig, opts.rank == 0
    done = (progress.epoch - 1) * data.steps_per_epoch + progress.step  # global steps already trained
    checkpoints = Checkpoints(ckpt_cfg.ckpt_path, ckpt_cfg.ckpt_file_name_prefix, int(ckpt_cfg.keep_checkpoint_max),
                              int(ckpt_cfg.save_checkpoint_steps),
                              {"steps_per_epoch": data.steps_per_epoch, "activation": str(cfg.ModelConfig.activation),
                               **({"accum_grad": training.accum_grad} if training.accum_grad > 1 else {}),
                               **feature_meta(data.params)})
    bar = tqdm(total=int(cfg.TrainingConfig.epochs) * data.steps_per_epoch, initial=done,
               disable=not is_main or not sys.stderr.isatty(), unit="step", dynamic_ncols=True)
    guard = NonFiniteGuard(int(cfg.TrainingConfig.max_nonfinite_steps), training.train_step)
    samples_per_step = int(cfg.DataConfig.batch_size) * opts.group_size
    batch_lr = per_batch(training.lr, data.steps_per_epoch, training.accum_grad)
    run_log = open_run_log(cfg, batch_lr, samples_per_step, done, resumed_from, log) if is_main else None
    return Loop(is_main, progress, checkpoints, guard, bar, run_log)


def train_one_epoch(cfg, opts: TrainOptions, data: TrainData, training: Training, loop: Loop, epoch: int) -> None:
    """Train this rank's batches of ``epoch`` (those not yet trained when resumed mid-epoch).

    Prints a loss line every ``log_interval`` steps and at the epoch's last step; saves every
    ``save_checkpoint_steps``; on SIGINT/SIGTERM, or after ``max_nonfinite_steps`` non-finite steps
    in a row, saves this step's state and stops.
    """
    data_cfg, progress, guard = cfg.DataConfig, loop.progress, loop.guard
    batch_size, seed, steps = int(data_cfg.batch_size), int(cfg.TrainingConfig.seed), data.steps_per_epoch
    log_interval = max(int(cfg.TrainingConfig.log_interval), 1)
    skip = progress.step if epoch == progress.epoch else 0
    # SortaGrad (DS2 paper, section 3.1): the first epoch shortest first, so the model meets easy,
    # short utterances before long ones; every later epoch in shuffled bucket order
    in_length_order = bool(data_cfg.sortagrad) and epoch == 1
    batches = make_batches(data.utts, batch_size, shuffle=not in_length_order, seed=seed, epoch=epoch, rank=opts.rank,
                           group_size=opts.group_size, bucket_pool=int(data_cfg.bucket_pool))[skip:]
    source = BatchSource(data.utts, batches, data.params, data.labels.blank, batch_size, data.label_pad,
                         int(data_cfg.pad_multiple), feature_fn=data.feature_cache, augment=data.augment, seed=seed,
                         epoch=epoch)
    dataset = create_dataset(source, int(data_cfg.num_workers))
    training.train_step.set_train(True)
    epoch_start = time.time()
    if loop.run_log:
        loop.run_log.begin_epoch((epoch - 1) * steps + skip)
    # x [B, 1, F, T] float32 (T: the batch's padded width), lengths [B] int32 frames,
    # labels [B, L] int32, weights [B] float32 (0 for filler rows and rows with non-finite features)
    for step, (x, lengths, labels, weights) in enumerate(dataset.create_tuple_iterator(num_epochs=1), skip + 1):
        guard.before_step()
        loss, grad_norm = training.train_step(x, lengths, labels, weights)  # scalars; no update unless both finite
        loss, grad_norm = float(loss.asnumpy()), float(grad_norm.asnumpy())
        apply_accumulated(training, step, steps)
        loop.bar.update(1)
        guard.update(loss, grad_norm, f"epoch {epoch} step {step}")
        progress.epoch, progress.step = epoch, step
        if step % log_interval == 0 or step == steps:
            progress.last_loss = loss
            if loop.main:
                log(f"epoch: {epoch} step: {step}, loss is {loss}")
                loop.bar.set_postfix(loss=f"{loss:.3f}")
                loop.run_log.train(epoch, (epoch - 1) * steps + step, loss, grad_norm)
        if loop.checkpoints.every and step % loop.checkpoints.every == 0 and step != steps:
            save(training.train_step, loop)
        if stop_requested():  # SIGINT/SIGTERM: keep this step's work, then exit (src/common/signals.py)
            save(training.train_step, loop)
            raise TrainingInterrupted(stop_requested(), loop.checkpoints.last)
        if guard.diverged:  # too many non-finite steps in a row: keep the last good state, then stop
            save(training.train_step, loop)
            raise guard.error(loop.checkpoints.last)
    elapsed = time.time() - epoch_start
    record_seen(opts.rank, epoch, data.utts, batches)
    if loop.main:
        rate = (steps - skip) / max(elapsed, 1e-9)
        eta = (int(cfg.TrainingConfig.epochs) - epoch) * steps / max(rate, 1e-9)
        log(f"epoch {epoch} done in {elapsed:.1f} s ({rate:.2f} steps/s, "
            f"{rate * batch_size * opts.group_size:.1f} utterances/s); ETA {eta / 60:.1f} min")
        if guard.skipped:
            log(f"{guard.skipped} steps skipped so far: non-finite loss or gradient, update not applied")


def apply_accumulated(training: Training, step: int, steps: int) -> None:
    """With accum_grad > 1: after every accum_grad-th batch of the epoch, and its last, one update with
    the mean of the gradients added since the previous one (the position, not a counter, decides, so a
    resumed run applies exactly where an uninterrupted one does)."""
    k = training.accum_grad
    if k > 1 and (step % k == 0 or step == steps):
        batches = step - (step - 1) // k * k
        training.train_step.update(ms.Tensor(1.0 / batches, ms.float32))


def validate_and_keep_best(cfg, data: TrainData, training: Training, loop: Loop, epoch: int) -> None:
    """Validate the epoch's model (rank 0), save the epoch's checkpoint, and copy it to
    ``<prefix>-best.ckpt`` if its WER beats every earlier epoch's, this run's and those before a resume.

    Validation comes first so that the checkpoint's meta holds the best WER including this
    epoch's; the checkpoint is saved even if validation fails.
    """
    progress, checkpoints = loop.progress, loop.checkpoints
    improved = False
    try:
        if data.val_utts and loop.main:
            data_cfg = cfg.DataConfig
            rates = evaluate(training.predictor, data.val_utts, data.labels, data.params, int(data_cfg.batch_size),
                             int(data_cfg.num_workers), int(data_cfg.pad_multiple),
                             max_static_shapes=int(data_cfg.max_static_shapes))["rates"]
            log(f"epoch {epoch} validation: WER {rates.wer:.3f} CER {rates.cer:.3f}")
            loop.run_log.validation(epoch, epoch * data.steps_per_epoch, rates.wer, rates.cer)
            improved = rates.wer < progress.best_wer
            if improved:
                progress.best_wer = rates.wer
                progress.best_checkpoint = checkpoint_name(checkpoints.prefix, epoch, data.steps_per_epoch)
    finally:
        save(training.train_step, loop)
    if improved:
        atomic_copy(checkpoints.last, checkpoints.best)
        log(f"best validation WER so far: {progress.best_wer:.3f}, kept as {checkpoints.best}")


def save(train_step: TrainStep, loop: Loop) -> None:
    """Write ``<prefix>-<epoch>_<step>.ckpt`` at the loop's position (rank 0 only), then prune the series.

    It holds the parameters, optimiser moments and global step, and in its meta the position,
    the series' facts and the best validation WER so far: all that :func:`restore` needs.
    """
    if not loop.main:
        return
    checkpoints, progress = loop.checkpoints, loop.progress
    path = os.path.join(checkpoints.folder, checkpoint_name(checkpoints.prefix, progress.epoch, progress.step))
    save_checkpoint(train_step, path, {**progress.meta(), **checkpoints.meta})
    prune_checkpoints(checkpoints.folder, checkpoints.prefix, checkpoints.keep)
    checkpoints.saved.append(path)
