import json

import pytest

from src.data.labels import LabelError, Labels


@pytest.fixture
def labels():
    return Labels.load("labels.json")


def test_labels_json_is_the_zoo_set(labels):
    with open("labels.json") as fh:
        symbols = json.load(fh)
    assert len(symbols) == 29 and symbols[-1] == "_" and symbols[0] == "'" and symbols[27] == " "
    assert labels.blank == 28


def test_apostrophe_survives_encoding(labels):
    text, dropped = labels.normalise("don't  stop\n")
    assert text == "DON'T STOP" and not dropped
    ids = labels.encode(text)
    assert 0 in ids and len(ids) == len(text)
    assert labels.decode(ids) == "DON'T STOP"


def test_normalise_reports_characters_outside_labels(labels):
    text, dropped = labels.normalise("Café, naïve — 42!")
    assert text == "CAFE NAIVE"
    assert dropped[","] == 1 and dropped["4"] == 1 and dropped["!"] == 1


def test_typographic_apostrophe_is_folded(labels):
    assert labels.normalise("it\u2019s")[0] == "IT'S"


def test_blank_must_be_last(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(json.dumps(["_", "A", "B"]))
    with pytest.raises(LabelError, match="last"):
        Labels.load(str(path))


def test_missing_labels_file_is_named():
    with pytest.raises(LabelError, match="nope.json"):
        Labels.load("nope.json")
