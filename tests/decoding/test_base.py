"""Every decoder is a Decoder, and a ``with`` block stops the beam decoder's workers however it ends."""
import multiprocessing

import numpy as np
import pytest

import config
from src.data.labels import Labels
from src.decoding.base import Decoder
from src.decoding.beam import BeamDecoder, BeamSettings
from src.decoding.greedy import GreedyDecoder
from src.decoding.select import build_decoder

L = Labels.load("labels.json")
NO_LM = dict(config.eval_config.LMConfig, lm_path="", beam_width=4, top_paths=1)


def test_both_decoders_are_decoders_and_context_managers():
    with build_decoder(L, dict(NO_LM, decoder_type="greedy")) as greedy:
        assert isinstance(greedy, GreedyDecoder) and isinstance(greedy, Decoder)
    with build_decoder(L, dict(NO_LM, decoder_type="beam", lm_workers=1)) as beam:
        assert isinstance(beam, BeamDecoder) and isinstance(beam, Decoder)
    with pytest.raises(TypeError):
        Decoder()  # decode and describe are abstract


def test_a_decode_that_raises_still_stops_the_worker_pool():
    before = set(multiprocessing.active_children())
    decoder = BeamDecoder(L, BeamSettings.from_config(dict(NO_LM, lm_workers=2)))
    workers = set(multiprocessing.active_children()) - before
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    rows = [np.full((5, 7), 1 / 7, np.float32)] * 3  # 7 classes where the labels have 29: the search rejects them
    with pytest.raises(ValueError):
        with decoder:
            decoder.decode(rows, [5, 5, 5])
    assert not any(w.is_alive() for w in workers)
    assert set(multiprocessing.active_children()) <= before
