import numpy as np
import soundfile as sf

from src.data.batching import BatchSource, load_utterances, make_batches, rank_slice, required_frames
from src.data.features import SpectParams
from src.data.labels import Labels
from tests.helpers import fsdd_manifest

LABELS = Labels.load("labels.json")


def write_utt(folder, name, seconds, text):
    wav, txt = folder / f"{name}.wav", folder / f"{name}.txt"
    sf.write(wav, np.random.default_rng(0).standard_normal(int(16000 * seconds)).astype(np.float32) * 0.1, 16000)
    txt.write_text(text)
    return f"{wav},{txt}"


def test_required_frames_counts_repeats():
    assert required_frames([1, 2, 3]) == 3
    assert required_frames([12, 12, 12]) == 5


def test_unalignable_empty_and_missing_are_skipped_and_counted(tmp_path):
    lines = [write_utt(tmp_path, "ok", 1.0, "hello"),
             write_utt(tmp_path, "long", 0.1, "this transcript is far too long for a tenth of a second"),
             write_utt(tmp_path, "empty", 1.0, " ...\n"),
             f"{tmp_path}/missing.wav,{tmp_path}/ok.txt"]
    (tmp_path / "m.csv").write_text("\n".join(lines))
    utts, report = load_utterances(str(tmp_path / "m.csv"), LABELS, SpectParams())
    assert [u.text for u in utts] == ["HELLO"]
    assert report.total == 4 and report.kept == 1 and sum(report.skipped.values()) == 3
    assert any("cannot be aligned" in r for r in report.skipped)
    assert "m.csv:4" in report.summary()
    assert report.dropped_chars["."] == 3


def test_buckets_cover_every_utterance_once_and_shuffle_by_epoch(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=3)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    b1 = make_batches(utts, 4, seed=0, epoch=1)
    b2 = make_batches(utts, 4, seed=0, epoch=2)
    assert sorted(i for b in b1 for i in b) == list(range(len(utts)))
    assert b1 != b2 and b1 == make_batches(utts, 4, seed=0, epoch=1)
    for batch in b1:  # each bucket holds neighbours in duration order
        frames = sorted(utts[i].frames for i in batch)
        assert frames == [utts[i].frames for i in sorted(batch, key=lambda i: (utts[i].frames, i))]


def test_batches_have_fixed_shapes_and_weighted_fillers(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=1)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    batches = make_batches(utts, 4, shuffle=False)
    source = BatchSource(utts, batches, SpectParams(), LABELS.blank, 4, label_pad_length=12, pad_multiple=32)
    last = source[len(source) - 1]  # 10 utterances -> the last batch has 2 real rows
    inputs, lengths, labels, weights = last
    assert inputs.shape[0] == 4 and inputs.shape[3] % 32 == 0 and labels.shape == (4, 12)
    assert list(weights) == [1, 1, 0, 0]
    row = utts[batches[-1][0]]
    assert lengths[0] == row.frames and list(labels[0, :len(row.ids)]) == list(row.ids)
    assert (labels[0, len(row.ids):] == LABELS.blank).all()
    assert (inputs[0, 0, :, lengths[0]:] == 0).all()


def test_bucket_pool_mixes_lengths_but_covers_everything(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=4)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    for pool in (1, 2):
        batches = make_batches(utts, 4, seed=0, epoch=1, bucket_pool=pool)
        assert sorted(i for b in batches for i in b) == list(range(len(utts)))
    strict = make_batches(utts, 4, seed=0, epoch=1)
    random = make_batches(utts, 4, seed=0, epoch=1, bucket_pool=1)
    spread = lambda bs: np.mean([max(utts[i].frames for i in b) - min(utts[i].frames for i in b) for b in bs])
    assert spread(random) > spread(strict)


def test_shards_cover_the_epoch_without_starving_a_rank(tmp_path):
    manifest = fsdd_manifest(str(tmp_path), per_digit=3)
    utts, _ = load_utterances(manifest, LABELS, SpectParams())
    shards = [make_batches(utts, 4, seed=5, epoch=1, rank=r, group_size=3) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    seen = [i for s in shards for b in s for i in b]
    assert sorted(seen) == list(range(len(utts)))  # once each: no duplicates, no gaps
    # step k of the three ranks together is step k of one process with the tripled batch
    merged = make_batches(utts, 12, seed=5, epoch=1)
    assert [sum((s[k] for s in shards), []) for k in range(len(merged))] == merged


def test_rank_slices_of_a_short_batch_are_even():
    assert [rank_slice(list(range(5)), r, 3) for r in range(3)] == [[0, 1], [2, 3], [4]]
    assert [rank_slice([7], r, 2) for r in range(2)] == [[7], []]


def test_an_empty_rank_slice_is_all_filler(tmp_path):
    utts, _ = load_utterances(fsdd_manifest(str(tmp_path), per_digit=1), LABELS, SpectParams())
    inputs, lengths, labels, weights = BatchSource(utts, [[]], SpectParams(), LABELS.blank, 2)[0]
    assert inputs.shape[0] == 2 and not weights.any()
