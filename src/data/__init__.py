"""Manifest -> checked samples -> features -> batches: labels, manifests, sample checks, spectrograms, cache, augmentation. No MindSpore here."""
