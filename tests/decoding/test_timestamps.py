from src.data.features import SpectParams
from src.decoding.timestamps import output_frame_seconds, word_times


def test_frame_duration_follows_the_network_stride():
    assert output_frame_seconds(SpectParams()) == 0.02  # 2 x the 10 ms hop (tests/model/test_geometry.py)


def test_words_are_offset_by_their_chunk_and_clipped_to_it():
    words = [("A", 0, 3), ("B", 10, 20), ("C", 400, 500)]
    times = word_times(words, start=30.0, end=35.0, frame_seconds=0.02)
    assert times == [{"word": "A", "start": 30.0, "end": 30.06}, {"word": "B", "start": 30.2, "end": 30.4},
                     {"word": "C", "start": 35.0, "end": 35.0}]
