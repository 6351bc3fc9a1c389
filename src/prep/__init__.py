"""Corpus preparation as idempotent, resumable stages: LibriSpeech (download, tarballs, trees, Mini LibriSpeech), own audio, FSDD, TTS, speaker splits."""
