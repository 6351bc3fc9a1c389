"""Word start/end times from a CTC alignment: output frames -> seconds within the audio.

The network's output frame j comes from input frames 2j and 2j+1 (conv1 has time stride 2, see
``src.model.deepspeech2.output_lengths``), and input frame i is centred at i hops. A word spans the
output frames from its first to its last character (blanks between them included).
"""
from typing import Dict, List, Sequence

from src.decoding.greedy import WordFrames
from src.data.features import SpectParams

TIME_STRIDE = 2


def output_frame_seconds(params: SpectParams) -> float:
    """Seconds per output frame (20 ms with the 10 ms hop)."""
    return TIME_STRIDE * params.hop / params.sample_rate


def word_times(words: Sequence[WordFrames], start: float, end: float, frame_seconds: float) -> List[Dict]:
    """``{"word", "start", "end"}`` in seconds for the words of a chunk running from ``start`` to ``end``.

    Times are clipped to the chunk, so they stay inside the audio and in order across chunks.
    """
    out = []
    for word, first, last in words:
        begin = min(start + first * frame_seconds, end)
        finish = min(start + last * frame_seconds, end)
        out.append({"word": word, "start": round(begin, 3), "end": round(max(finish, begin), 3)})
    return out
