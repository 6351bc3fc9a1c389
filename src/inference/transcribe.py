"""Transcribing audio files with any network (src/inference/networks.py: a checkpoint or an exported
MINDIR; src/inference/onnx_predictor.py: ONNX): chunks -> network -> decoder. No MindSpore here.

Each file is decoded by sox into a pipe and cut into chunks of bounded length at silences
(src/inference/audio_stream.py); chunks of consecutive files share network batches, and each batch's
chunks are decoded together (the beam decoder spreads them over its workers). A file's result
is the chunks' words in order, with start/end times from the CTC alignment. Memory is bounded
by the chunk length and the batch size, not by the length of a recording.
"""
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Sequence

import numpy as np

from src.inference.audio_stream import split_at_silences, sox_samples
from src.data.features import AudioError, SpectParams, spectrogram
from src.decoding.timestamps import output_frame_seconds, word_times


@dataclass
class FileResult:
    path: str
    duration: float = 0.0
    text: str = ""
    words: List[Dict] = field(default_factory=list)
    chunks: List[Dict] = field(default_factory=list)  # {"start", "end", "text"} per chunk
    error: str = ""

    def as_dict(self) -> Dict:
        doc = {"path": self.path, "duration": round(self.duration, 3), "text": self.text, "words": self.words,
               "chunks": self.chunks}
        if self.error:
            doc["error"] = self.error
        return doc


@dataclass
class _Piece:
    file_index: int
    start: float
    end: float
    features: np.ndarray


@dataclass
class Speed:
    audio_seconds: float = 0.0
    network_seconds: float = 0.0  # features + network
    decode_seconds: float = 0.0
    chunks: int = 0


class Transcriber:
    """``run(paths)`` yields one ``FileResult`` per path, in order, as soon as each is complete."""

    def __init__(self, network, decoder, params: SpectParams, chunk_seconds: float = 20.0,
                 search_seconds: float = 8.0):
        self.network, self.decoder, self.params = network, decoder, params
        self.chunk_seconds = chunk_seconds
        if network.max_frames is not None:  # a MINDIR takes at most its exported frames
            self.chunk_seconds = min(chunk_seconds, (network.max_frames - 1) * params.hop / params.sample_rate)
        self.search_seconds = min(search_seconds, self.chunk_seconds / 2)
        self.frame_seconds = output_frame_seconds(params)
        self.speed = Speed()

    def _pieces(self, index: int, path: str, result: FileResult) -> Iterator[_Piece]:
        rate = self.params.sample_rate
        try:
            chunks = 0
            for chunk in split_at_silences(sox_samples(path, rate), rate, self.chunk_seconds, self.search_seconds):
                chunks += 1
                end = chunk.start + len(chunk.samples) / rate
                result.duration = end
                start_time = time.perf_counter()
                features = spectrogram(chunk.samples, self.params)
                self.speed.network_seconds += time.perf_counter() - start_time
                yield _Piece(index, chunk.start, end, features)
            if not chunks:
                raise AudioError(f"{path}: the audio is empty")
        except AudioError as err:
            result.error = str(err)

    def _run_batch(self, pieces: Sequence[_Piece], results: List[FileResult]) -> None:
        start = time.perf_counter()
        width = self.network.max_frames or max(p.features.shape[1] for p in pieces)
        x = np.zeros((self.network.batch_size, 1, self.params.n_bins, width), np.float32)
        lengths = np.full((self.network.batch_size,), width, np.int32)  # filler rows: zeros, ignored
        for row, piece in enumerate(pieces):
            frames = piece.features.shape[1]
            x[row, 0, :, :frames] = piece.features
            lengths[row] = frames
        probs, out_lengths = self.network(x, lengths)
        self.speed.network_seconds += time.perf_counter() - start
        start = time.perf_counter()
        rows = [probs[i, : int(out_lengths[i])] for i in range(len(pieces))]
        nbest = self.decoder.decode(rows, [len(r) for r in rows])
        self.speed.decode_seconds += time.perf_counter() - start
        for piece, hyps in zip(pieces, nbest):
            best = hyps[0]
            result = results[piece.file_index]
            result.chunks.append({"start": round(piece.start, 3), "end": round(piece.end, 3),
                                  "text": " ".join(best.text.split())})
            result.words += word_times(best.words, piece.start, piece.end, self.frame_seconds)
            self.speed.chunks += 1

    def run(self, paths: Sequence[str]) -> Iterator[FileResult]:
        results = [FileResult(path) for path in paths]
        expected = [0] * len(paths)  # chunks per file, known once the file is read to its end
        pending: List[_Piece] = []
        emitted = 0

        def finished(upto: int) -> Iterator[FileResult]:
            nonlocal emitted
            while emitted < upto and len(results[emitted].chunks) == expected[emitted]:
                done = results[emitted]
                done.text = " ".join(c["text"] for c in done.chunks if c["text"])
                if done.error:
                    done.text, done.words, done.chunks = "", [], []
                self.speed.audio_seconds += done.duration
                results[emitted] = None  # emitted: keep nothing of it
                emitted += 1
                yield done

        for index, path in enumerate(paths):
            for piece in self._pieces(index, path, results[index]):
                expected[index] += 1
                pending.append(piece)
                if len(pending) == self.network.batch_size:
                    self._run_batch(pending, results)
                    pending = []
                    yield from finished(index)
            yield from finished(index + 1)
        if pending:
            self._run_batch(pending, results)
        yield from finished(len(paths))
