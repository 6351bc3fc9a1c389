"""Word start/end times from a CTC alignment: output frames -> seconds within the audio.

The network's output frame j comes from input frames TIME_STRIDE * j onwards (conv1 has time
stride 2, see ``src/model/geometry.py``), and input frame i is centred at i hops. A word spans the
output frames from its first to its last character (blanks between them included).
"""
from typing import Dict, List, Sequence

from src.data.features import SpectParams
from src.decoding.base import WordFrames
from src.model.geometry import TIME_STRIDE


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
