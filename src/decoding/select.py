"""The decoder ``LMConfig`` asks for: ``decoder_type`` greedy (the zoo's) or beam (+ n-gram LM)."""
from src.config.schema import DECODER_TYPES
from src.data.labels import Labels
from src.decoding.base import Decoder
from src.decoding.beam import BeamDecoder, BeamSettings
from src.decoding.greedy import GreedyDecoder


def build_decoder(labels: Labels, lm_cfg) -> Decoder:
    """A decoder for ``labels`` as ``lm_cfg`` (LMConfig) says; use it as ``with build_decoder(...) as d:``.

    The beam decoder loads its LM and forks its workers here, before any network runs.
    """
    kind = str(lm_cfg["decoder_type"])
    if kind == "greedy":
        return GreedyDecoder(labels)
    if kind == "beam":
        return BeamDecoder(labels, BeamSettings.from_config(lm_cfg))
    raise ValueError(f"--decoder_type {kind!r}: choose {' or '.join(DECODER_TYPES)}")
