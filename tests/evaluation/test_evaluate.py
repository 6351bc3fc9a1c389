"""evaluate() on real audio keeps one compiled graph at a time and none afterwards (each holds GBs on the CPU)."""
import numpy as np

import src  # noqa: F401
import mindspore as ms

from src.data.features import SpectParams
from src.data.labels import DEFAULT_LABELS_PATH, Labels
from src.data.sample_check import load_utterances
from src.evaluation import evaluate as evaluation
from src.model.deepspeech2 import DeepSpeechModel, PredictWithSoftmax
from src.model.shapes import padded_widths
from tests.helpers import fsdd_manifest


def test_one_graph_at_a_time_and_none_left_with_the_same_results(tmp_path, monkeypatch):
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    ms.set_seed(0)
    labels, params = Labels.load(DEFAULT_LABELS_PATH), SpectParams()
    utts, _ = load_utterances(fsdd_manifest(str(tmp_path), per_digit=1), labels, params)
    assert padded_widths([u.frames for u in utts], 16) >= 3
    # graph lifetimes are under test, not the convs: the direct kernel's graphs compile ~4x faster
    predictor = PredictWithSoftmax(DeepSpeechModel(hidden_size=8, hidden_layers=2, conv_impl="direct"))
    graphs_alive = []
    release = evaluation.free_compiled_graphs

    def counting(cell):
        graphs_alive.append(len(cell.compile_cache))
        release(cell)

    monkeypatch.setattr(evaluation, "free_compiled_graphs", counting)
    first = evaluation.evaluate(predictor, utts, labels, params, 4, 1, 16, printer=lambda _: None)
    assert len(graphs_alive) >= 4 and max(graphs_alive) == 1  # one per width, then the last one at the end
    assert not predictor.compile_cache
    again = evaluation.evaluate(predictor, utts, labels, params, 4, 1, 16, printer=lambda _: None)
    assert [u["hyp"] for u in again["utterances"]] == [u["hyp"] for u in first["utterances"]]
    assert np.isclose(again["rates"].cer, first["rates"].cer)


def test_a_dynamic_evaluation_leaves_the_shared_conv_layers_as_training_built_them(tmp_path):
    """Validation's dynamic graph runs conv2 direct (conv_impl auto), but the layer is shared with the training
    step: widths that training compiles afterwards must get the DFT again."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    labels, params = Labels.load(DEFAULT_LABELS_PATH), SpectParams()
    utts, _ = load_utterances(fsdd_manifest(str(tmp_path), per_digit=1), labels, params)
    model = DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="auto")
    seen = []
    evaluation.evaluate(PredictWithSoftmax(model), utts[:4], labels, params, 4, 1, 16, verbose=True,
                        printer=lambda _: seen.append(model.conv.conv2.direct), max_static_shapes=0)
    assert seen and all(seen)
    assert model.conv.conv2.direct is False
