"""Running the inference network over a data set and scoring it; used by eval.py and validation.

The printed format is the zoo's (and deepspeech.pytorch V2.1's): per utterance ``Ref:``/``Hyp:``
(lower-cased) and ``WER: x CER: y`` as fractions, then ``Test Summary \\tAverage WER x.xxx\\t
Average CER y.yyy\\t`` in percent, corpus-level.
"""
import json
import pickle
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

from src.common.files import atomic_write
from src.data.batching import BatchSource, Utterance, create_dataset, make_batches
from src.decoding.base import Decoder
from src.decoding.greedy import GreedyDecoder
from src.data.features import SpectParams
from src.data.labels import Labels
from src.evaluation.metrics import ErrorRates
from src.model.shapes import dynamic_time_while, free_compiled_graphs, padded_widths


def summary_line(rates: ErrorRates) -> str:
    return f"Test Summary \tAverage WER {rates.wer:.3f}\tAverage CER {rates.cer:.3f}\t"


def needs_dynamic_time(utts: Sequence[Utterance], pad_multiple: int, max_static_shapes: int) -> bool:
    """Whether evaluation runs these utterances through one graph with a dynamic time axis (more padded
    widths than ``max_static_shapes``) rather than one graph per width; the trainer asks before validating."""
    return padded_widths([u.frames for u in utts], pad_multiple) > max_static_shapes


def evaluate(predictor, utts: Sequence[Utterance], labels: Labels, params: SpectParams, batch_size: int,
             num_workers: int = 1, pad_multiple: int = 64, verbose: bool = False,
             printer: Callable[[str], None] = print, save_output: str = "", max_static_shapes: int = 8,
             decoder: Optional[Decoder] = None) -> Dict:
    """Decode every utterance (greedy, or ``decoder``, which the caller opened with ``with build_decoder(...)``
    and closes); returns totals, per-utterance results, and the decoding time with the audio duration
    (for the speed report)."""
    predictor.set_train(False)
    dynamic = needs_dynamic_time(utts, pad_multiple, max_static_shapes)
    with dynamic_time_while(predictor, batch_size, params.n_bins) if dynamic else nullcontext():
        outcome = _run(predictor, utts, labels, params, batch_size, num_workers, pad_multiple, verbose, printer,
                       save_output, dynamic, decoder or GreedyDecoder(labels))
    free_compiled_graphs(predictor)  # nothing left behind for the training that validates with this
    return outcome


def _run(predictor, utts: Sequence[Utterance], labels: Labels, params: SpectParams, batch_size: int,
         num_workers: int, pad_multiple: int, verbose: bool, printer: Callable[[str], None], save_output: str,
         dynamic: bool, decoder: Decoder) -> Dict:
    decode_seconds = 0.0
    batches = make_batches(utts, batch_size, shuffle=False)
    source = BatchSource(utts, batches, params, labels.blank, batch_size, pad_multiple=pad_multiple)
    dataset = create_dataset(source, num_workers)
    rates = ErrorRates()
    results: List[Dict] = []
    saved = []
    width = 0
    for members, (inputs, lengths, _, _) in zip(batches, dataset.create_tuple_iterator(num_epochs=1)):
        if not dynamic and inputs.shape[-1] != width:  # batches come shortest first: a width never returns,
            free_compiled_graphs(predictor)  # so one compiled graph at a time (each holds GBs on the CPU)
            width = inputs.shape[-1]
        probs, out_lengths = predictor(inputs, lengths)
        probs, out_lengths = probs.asnumpy()[:len(members)], out_lengths.asnumpy()[:len(members)]
        start = time.perf_counter()
        nbest = decoder.decode(probs, out_lengths)
        decode_seconds += time.perf_counter() - start
        hyps = [alternatives[0].text for alternatives in nbest]
        if save_output:
            saved.append((probs, out_lengths, [utts[i].text for i in members]))
        for index, hyp, alternatives in zip(members, hyps, nbest):
            ref = utts[index].text
            wer, cer = rates.add(ref, hyp)
            results.append({"wav_path": utts[index].wav_path, "ref": ref, "hyp": hyp, "wer": wer, "cer": cer})
            if len(alternatives) > 1:  # LMConfig.top_paths > 1: the n-best list, best first
                results[-1]["nbest"] = [{"text": h.text, "score": h.score} for h in alternatives]
            if verbose:
                printer(f"Ref: {ref.lower()}")
                printer(f"Hyp: {hyp.lower()}")
                printer(f"WER: {wer} CER: {cer}\n")
    if save_output:
        with atomic_write(save_output + ".bin", "wb") as fh:
            pickle.dump(saved, fh)
    audio_seconds = sum(u.frames - 1 for u in utts) * params.hop / params.sample_rate
    return {"rates": rates, "utterances": results, "decode_seconds": decode_seconds, "audio_seconds": audio_seconds}


def write_results(path: str, outcome: Dict, extra: Optional[Dict] = None) -> None:
    """Machine-readable results beside the console output (written atomically)."""
    rates: ErrorRates = outcome["rates"]
    doc = {"wer": rates.wer, "cer": rates.cer, "utterances": rates.utterances, "words": rates.words,
           "word_edits": rates.word_edits, "chars": rates.chars, "char_edits": rates.char_edits}
    doc.update(extra or {})
    doc["results"] = outcome["utterances"]
    with atomic_write(path) as fh:
        json.dump(doc, fh, indent=1)
