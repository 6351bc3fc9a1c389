"""All configuration, in one place: the model zoo's ``train_config`` / ``eval_config``.

Keys and defaults are the MindSpore model zoo's (``src/config.py`` there), so a model-zoo user
finds what they know. Keys marked *new* go beyond the zoo; nothing of the zoo's is renamed.
Every key can be overridden on the command line (``--batch_size 8`` or
``--DataConfig.batch_size 8``); see ``src/config/overrides.py``. Unknown keys are an error.
"""
import os

from easydict import EasyDict as ed

# The zoo's default "labels.json" meant the one beside the code; made absolute so that runs from
# another folder (msrun workers, launchers) find it too.
LABELS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels.json")

# Named model sizes (new): (hidden_size, hidden_layers). "full" is the model zoo's 86.6 M network;
# the smaller ones make CPU training practical.
MODEL_SIZES = {
    "full": {"hidden_size": 1024, "hidden_layers": 5},
    "medium": {"hidden_size": 512, "hidden_layers": 4},
    "small": {"hidden_size": 256, "hidden_layers": 3},
    "tiny": {"hidden_size": 64, "hidden_layers": 2},
}

_SPECT = {
    "sample_rate": 16000,
    "window_size": 0.02,
    "window_stride": 0.01,
    # The zoo's eval config said "hanning", which differs from training and crashes on current
    # SciPy. Train and eval share this one value.
    "window": "hamming",
}

_MODEL = {
    "rnn_type": "LSTM",
    "hidden_size": 1024,
    "hidden_layers": 5,
    "lookahead_context": 20,  # kept for compatibility: only the bidirectional model exists
    "activation": "tanh",  # new: tanh (model zoo) | hardtanh (deepspeech.pytorch, 0..20) | relu
    "rnn_batch_norm": False,  # new: BatchNorm between the LSTM layers (deepspeech.pytorch); not in the zoo
    # new: how conv2 is computed. auto = through the DFT on CPU (2-3x faster there, same weights and
    # outputs, src/model/dft_conv.py), nn.Conv2d on GPU/Ascend | direct | dft
    "conv_impl": "auto",
}

train_config = ed({
    "TrainingConfig": {
        "epochs": 70,
        "seed": 1,  # new
        "log_interval": 1,  # new: print a loss line (and a metrics record) every N steps
        "run_dir": "",  # new: run folder (config, versions, metrics.jsonl; src/training/run_log.py); "" = <ckpt_path>/run
        "tensorboard": False,  # new: also write TensorBoard event files to <run_dir>/tensorboard
        "max_nonfinite_steps": 20,  # new: stop after this many NaN/inf steps in a row (0 = never)
    },
    "DataConfig": {
        "train_manifest": "data/libri_train_manifest.csv",
        "val_manifest": "",  # new in effect (commented out in the zoo): validated each epoch when set
        "batch_size": 20,
        "labels_path": LABELS_PATH,
        "num_workers": 2,  # new: feature-extraction worker processes
        "feature_cache_dir": "",  # new: keep clean spectrograms here across epochs/runs (src/data/feature_cache.py); "" = off
        "max_duration": 0.0,  # new: drop training utterances longer than this (s); 0 = keep all
        "pad_multiple": 64,  # new: pad time to a multiple of this many frames (few graph shapes)
        "max_static_shapes": 8,  # new: more padded widths than this -> dynamic time axis (memory)
        "bucket_pool": 0,  # new: 0 = batches from the fully duration-sorted set; N = sort within
        #                    random pools of N batches (1 = random batches, for isolated words)
        "label_pad_length": 0,  # new: fixed CTC label length; 0 = the longest label in the manifest
        "on_bad_sample": "skip",  # new: skip (and report) | error: unusable manifest entries (src/data/sample_check.py)
        "convert_audio": True,  # new: resample/downmix other rates/channel counts (warned); False = bad sample
        "SpectConfig": dict(_SPECT),
        # Training only (see src/data/augment.py); the zoo had these keys but read none of them.
        "AugmentationConfig": {
            "speed_volume_perturb": False,
            "speed_min": 0.9,  # new: speed factor range
            "speed_max": 1.1,  # new
            "gain_min": -6.0,  # new: gain range, dB
            "gain_max": 8.0,  # new
            "spec_augment": False,
            "freq_masks": 2,  # new: SpecAugment frequency masks ...
            "freq_mask_width": 15,  # new: ... of up to this many bins
            "time_masks": 2,  # new: time masks ...
            "time_mask_ratio": 0.05,  # new: ... of up to this fraction of the utterance
            "noise_dir": "",
            "noise_prob": 0.4,
            "noise_min": 0.0,
            "noise_max": 0.5,
            "vtlp": False,  # new: vocal tract length perturbation (frequency-axis warp), for new speakers
            "vtlp_min": 0.9,  # new: warp factor range
            "vtlp_max": 1.1,  # new
        },
    },
    "ModelConfig": dict(_MODEL),
    "OptimConfig": {
        "optimizer": "adam",  # new: adam | adamw | sgd (momentum, nesterov)
        "learning_rate": 3e-4,
        "lr_schedule": "zoo",  # new: zoo (constant, then /anneal per epoch in the 2nd half) |
        #                        anneal (/anneal every epoch) | cosine (warm-up + cosine) | constant
        "warmup_steps": 0,  # new: linear warm-up steps (all schedules)
        "learning_anneal": 1.1,
        "weight_decay": 1e-5,
        "momentum": 0.9,
        "eps": 1e-8,
        "betas": [0.9, 0.999],
        # Static loss scale: the loss is multiplied by it and the gradients divided by it, so in
        # fp32 it changes nothing (the zoo divided the gradients only, shrinking every update).
        "loss_scale": 1024,
        "epsilon": 1e-5,  # the zoo passes this one to Adam as eps
        "max_grad_norm": 400.0,  # new: global-norm clipping (deepspeech.pytorch's 400); 0 = off
    },
    "CheckpointConfig": {
        "ckpt_file_name_prefix": "DeepSpeech",
        "ckpt_path": "./checkpoint",
        "keep_checkpoint_max": 10,
        "save_checkpoint_steps": 0,  # new: also save every N steps; 0 = at each epoch end only
    },
})

eval_config = ed({
    "save_output": "",  # the zoo's default "librispeech_val_output"; set it to pickle the outputs
    "verbose": True,
    "DataConfig": {
        "test_manifest": "data/libri_test_clean_manifest.csv",
        "batch_size": 20,
        "labels_path": LABELS_PATH,
        "num_workers": 2,
        "pad_multiple": 64,
        "max_static_shapes": 8,
        "on_bad_sample": "skip",  # new: as in train_config
        "convert_audio": True,  # new: as in train_config
        "SpectConfig": dict(_SPECT),
    },
    "ModelConfig": dict(_MODEL),
    # Decoding (src/decoding/greedy.py, src/decoding/beam.py): greedy, or CTC prefix beam search scoring
    # log P_ctc + alpha * ln P_lm + beta * words with a KenLM n-gram LM (ARPA or binary; "" = none).
    "LMConfig": {
        "decoder_type": "greedy",  # greedy | beam
        "lm_path": "./3-gram.pruned.3e-7.arpa",
        "top_paths": 1,  # n-best size (eval's JSON lists them when > 1)
        "alpha": 1.818182,
        "beta": 0.0,
        "cutoff_top_n": 40,  # per frame, extend at most this many characters ...
        "cutoff_prob": 1.0,  # ... and only those within this cumulative probability
        "beam_width": 1024,
        "lm_workers": 4,  # processes decoding a batch's utterances
        "token_min_logp": -5.0,  # new: skip characters below this log-probability (the best is kept)
        "beam_prune_logp": -10.0,  # new: drop beams this far (natural log) below the best
        "unk_score_offset": -10.0,  # new: log10 penalty for a word outside the LM's vocabulary
    },
})
