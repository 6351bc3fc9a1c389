"""The training loop: data -> TrainStep -> checkpoints, with validation and resume.

Resume restores parameters, optimiser moments and the optimiser's global step (hence the LR
position) from the checkpoint, plus the epoch and step; the batch order of an epoch depends only
on ``seed + epoch``, so the resumed run continues with exactly the batches it had not seen.
"""
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Tuple

import mindspore as ms
import numpy as np
from tqdm import tqdm

from src.data.augment import AugmentParams
from src.model.checkpoint import (CheckpointError, checkpoint_name, describe_mismatch, has_rnn_batch_norm,
                            infer_model_shape, latest_checkpoint,
                            load_network_params, load_param_dict, parameter_digest, prune_checkpoints, read_meta,
                            save_checkpoint)
from src.data.batching import BatchSource, create_dataset, load_utterances, make_batches
from src.model.deepspeech2 import NetWithLoss, PredictWithSoftmax, build_model, count_parameters
from src.evaluation.evaluate import evaluate
from src.data.feature_cache import FeatureCache
from src.data.features import SpectParams
from src.common.signals import TrainingInterrupted, stop_requested
from src.data.labels import Labels
from src.training.lr_schedule import get_lr
from src.training.run_log import open_run_log
from src.data.sample_check import SamplePolicy
from src.model.shapes import declare_dynamic_time, padded_widths
from src.training.guard import NonFiniteGuard
from src.training.step import TrainStep, build_optimizer


@dataclass
class TrainOptions:
    """What the command line decides beyond the config tree."""
    pre_trained_model_path: str = ""
    resume: str = ""  # a checkpoint path, or "auto" for the newest in ckpt_path
    rank: int = 0
    group_size: int = 1


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


def restore(train_step: TrainStep, path: str, model_cfg, steps_per_epoch: int) -> Tuple[int, int]:
    """Load a training checkpoint into ``train_step``; returns the (epoch, step) to continue at.

    The LR array comes from this run's config (its position from the restored global step), so a
    run can be resumed with more epochs.
    """
    state = load_param_dict(path)
    hidden, layers = infer_model_shape(state, path)
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
    meta = read_meta(state)
    if meta.get("steps_per_epoch", steps_per_epoch) != steps_per_epoch:
        raise ValueError(f"{path} was written with {meta['steps_per_epoch']} steps per epoch, "
                         f"this data/batch size gives {steps_per_epoch}")
    epoch, step = meta.get("epoch", 1), meta.get("step", 0)
    return (epoch + 1, 0) if step >= steps_per_epoch else (epoch, step)


def train(cfg, opts: TrainOptions) -> dict:
    """Train as configured; returns a summary (last loss, best WER, checkpoint paths)."""
    data_cfg, ckpt_cfg, optim_cfg = cfg.DataConfig, cfg.CheckpointConfig, cfg.OptimConfig
    epochs, batch_size = int(cfg.TrainingConfig.epochs), int(data_cfg.batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs ({epochs}) and batch_size ({batch_size}) must be >= 1")
    seed = int(cfg.TrainingConfig.seed)
    # The same seed on every rank, so data-parallel replicas start from identical parameters;
    # the data's randomness (augmentation) is keyed by (seed, epoch, utterance), so it differs per
    # utterance whichever rank reads it, and does not change with the number of ranks.
    ms.set_seed(seed)
    np.random.seed(seed)

    labels = Labels.load(data_cfg.labels_path)
    params = SpectParams.from_config(data_cfg.SpectConfig)
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
    label_pad = int(data_cfg.label_pad_length) or max(len(u.ids) for u in utts)
    augment = AugmentParams.from_config(data_cfg.AugmentationConfig)
    if augment.enabled:
        log(f"augmentation: {augment}")
    pool = int(data_cfg.bucket_pool)
    steps_per_epoch = len(make_batches(utts, batch_size, rank=opts.rank, group_size=opts.group_size,
                                       bucket_pool=pool))

    network = build_model(cfg.ModelConfig, len(labels))
    log(f"model: {cfg.ModelConfig.hidden_layers} x BiLSTM-{cfg.ModelConfig.hidden_size}, "
        f"{count_parameters(network):,} trainable parameters")
    if opts.group_size > 1:
        log(f"rank {opts.rank}: initial parameter digest {parameter_digest(network)}")
        log(f"data parallel: rank {opts.rank} of {opts.group_size}, batch {batch_size} per rank, "
            f"effective batch {batch_size * opts.group_size}, {steps_per_epoch} steps per epoch")
    if opts.pre_trained_model_path:
        load_network_params(network, load_param_dict(opts.pre_trained_model_path), opts.pre_trained_model_path)
        log(f"initialised from {opts.pre_trained_model_path}")
    lr = get_lr(float(optim_cfg.learning_rate), epochs, steps_per_epoch, str(optim_cfg.lr_schedule),
                float(optim_cfg.learning_anneal), int(optim_cfg.warmup_steps))
    optimizer = build_optimizer(network, optim_cfg, lr)
    train_step = TrainStep(NetWithLoss(network), optimizer, float(optim_cfg.max_grad_norm),
                           float(optim_cfg.loss_scale))
    predictor = PredictWithSoftmax(network)
    stretch = 1.0 / augment.speed_min if augment.speed_volume_perturb else 1.0
    widths = padded_widths([u.frames for u in utts], int(data_cfg.pad_multiple), stretch)
    if widths > int(data_cfg.max_static_shapes):
        declare_dynamic_time(train_step, batch_size, params.n_bins, label_pad)
        log(f"up to {widths} padded widths > max_static_shapes {data_cfg.max_static_shapes}: dynamic time axis")

    ckpt_dir, prefix = ckpt_cfg.ckpt_path, ckpt_cfg.ckpt_file_name_prefix
    start_epoch, start_step = 1, 0
    resume = latest_checkpoint(ckpt_dir, prefix) if opts.resume == "auto" else opts.resume
    if opts.resume == "auto" and not resume:
        log(f"--resume auto: no checkpoint in {ckpt_dir}, starting fresh")
    if resume:
        start_epoch, start_step = restore(train_step, resume, cfg.ModelConfig, steps_per_epoch)
        log(f"resumed from {resume}: epoch {start_epoch}, step {start_step}")

    is_main = opts.rank == 0
    best_wer, last_loss, saved = float("inf"), float("nan"), []
    total_steps = epochs * steps_per_epoch
    done = (start_epoch - 1) * steps_per_epoch + start_step
    bar = tqdm(total=total_steps, initial=done, disable=not is_main or not sys.stderr.isatty(),
               unit="step", dynamic_ncols=True)
    log_interval = max(int(cfg.TrainingConfig.log_interval), 1)
    every = int(ckpt_cfg.save_checkpoint_steps)
    guard = NonFiniteGuard(int(cfg.TrainingConfig.max_nonfinite_steps), train_step)
    run_log = open_run_log(cfg, lr, batch_size * opts.group_size, done, resume or "", log) if is_main else None

    def save(epoch: int, step: int) -> None:
        if not is_main:
            return
        path = os.path.join(ckpt_dir, checkpoint_name(prefix, epoch, step))
        save_checkpoint(train_step, path, {"epoch": epoch, "step": step, "steps_per_epoch": steps_per_epoch,
                                           "activation": str(cfg.ModelConfig.activation)})
        prune_checkpoints(ckpt_dir, prefix, int(ckpt_cfg.keep_checkpoint_max))
        saved.append(path)

    feature_cache = FeatureCache(data_cfg.feature_cache_dir, params) if data_cfg.get("feature_cache_dir") else None
    for epoch in range(start_epoch, epochs + 1):
        batches = make_batches(utts, batch_size, shuffle=True, seed=seed, epoch=epoch,
                               rank=opts.rank, group_size=opts.group_size, bucket_pool=pool)
        skip = start_step if epoch == start_epoch else 0
        source = BatchSource(utts, batches[skip:], params, labels.blank, batch_size, label_pad,
                             int(data_cfg.pad_multiple), feature_fn=feature_cache, augment=augment, seed=seed,
                             epoch=epoch)
        dataset = create_dataset(source, int(data_cfg.num_workers))
        train_step.set_train(True)
        epoch_start, epoch_losses = time.time(), []
        if run_log:
            run_log.begin_epoch((epoch - 1) * steps_per_epoch + skip)
        for step, (inputs, lengths, label_ids, weights) in enumerate(dataset.create_tuple_iterator(num_epochs=1),
                                                                     skip + 1):
            guard.before_step()
            loss, grad_norm = train_step(inputs, lengths, label_ids, weights)
            bar.update(1)
            guard.update(float(loss.asnumpy()), float(grad_norm.asnumpy()), f"epoch {epoch} step {step}")
            if step % log_interval == 0 or step == steps_per_epoch:
                last_loss = float(loss.asnumpy())
                epoch_losses.append(last_loss)
                if is_main:
                    log(f"epoch: {epoch} step: {step}, loss is {last_loss}")
                    bar.set_postfix(loss=f"{last_loss:.3f}")
                    run_log.train(epoch, (epoch - 1) * steps_per_epoch + step, last_loss, float(grad_norm.asnumpy()))
            if every and step % every == 0 and step != steps_per_epoch:
                save(epoch, step)
            if stop_requested():  # SIGINT/SIGTERM: keep this step's work, then exit (src/common/signals.py)
                save(epoch, step)
                raise TrainingInterrupted(stop_requested(), saved[-1] if saved else "")
            if guard.diverged:  # too many non-finite steps in a row: keep the last good state, then stop
                save(epoch, step)
                raise guard.error(saved[-1] if saved else "")
        elapsed = time.time() - epoch_start
        record_seen(opts.rank, epoch, utts, batches[skip:])
        if is_main:
            rate = (steps_per_epoch - skip) / max(elapsed, 1e-9)
            eta = (epochs - epoch) * steps_per_epoch / max(rate, 1e-9)
            log(f"epoch {epoch} done in {elapsed:.1f} s ({rate:.2f} steps/s, "
                f"{rate * batch_size * opts.group_size:.1f} utterances/s); ETA {eta / 60:.1f} min")
            if guard.skipped:
                log(f"{guard.skipped} steps skipped so far: non-finite loss or gradient, update not applied")
        save(epoch, steps_per_epoch)
        if val_utts and is_main:
            outcome = evaluate(predictor, val_utts, labels, params, batch_size, int(data_cfg.num_workers),
                               int(data_cfg.pad_multiple), max_static_shapes=int(data_cfg.max_static_shapes))
            rates = outcome["rates"]
            log(f"epoch {epoch} validation: WER {rates.wer:.3f} CER {rates.cer:.3f}")
            run_log.validation(epoch, epoch * steps_per_epoch, rates.wer, rates.cer)
            if rates.wer < best_wer:
                best_wer = rates.wer
                best = os.path.join(ckpt_dir, f"{prefix}-best.ckpt")
                tmp = best + f".tmp{os.getpid()}"
                shutil.copyfile(saved[-1], tmp)
                os.replace(tmp, best)
                log(f"best validation WER so far: {best_wer:.3f}, kept as {best}")
    bar.close()
    if run_log:
        run_log.close()
    if opts.group_size > 1:
        log(f"rank {opts.rank}: parameter digest {parameter_digest(network)}")  # equal on every rank when in sync
    return {"last_loss": last_loss, "best_wer": best_wer, "checkpoints": saved,
            "steps_per_epoch": steps_per_epoch}
