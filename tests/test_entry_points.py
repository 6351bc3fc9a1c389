"""train.py / eval.py / export.py / json_to_csv.py end to end, as a user runs them (subprocesses)."""
import json
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import LIBRI, fsdd_manifest, random_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model_size", "tiny", "--batch_size", "4", "--pad_multiple", "32", "--num_workers", "2"]


def run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained 2 epochs on 20 real FSDD clips (5 steps per epoch)."""
    folder = tmp_path_factory.mktemp("e2e")
    manifest = fsdd_manifest(str(folder / "data"), per_digit=2)
    ckpt_dir = folder / "checkpoint"
    proc = run("train.py", "--train_manifest", manifest, "--val_manifest", manifest, "--epochs", "2",
               "--ckpt_path", str(ckpt_dir), *TINY)
    return {"folder": folder, "manifest": manifest, "ckpt_dir": ckpt_dir, "out": proc.stdout}


def test_train_prints_zoo_lines_and_writes_the_checkpoint_series(trained):
    out = trained["out"]
    assert re.search(r"^epoch: 1 step: 1, loss is \d+\.\d+", out, re.M)
    assert re.search(r"^epoch: 2 step: 5, loss is", out, re.M)
    assert "20 of 20 utterances kept" in out
    assert "epoch 2 validation: WER" in out
    names = sorted(os.listdir(trained["ckpt_dir"]))
    assert names == ["DeepSpeech-1_5.ckpt", "DeepSpeech-2_5.ckpt", "DeepSpeech-best.ckpt", "run"]  # run: src/training/run_log.py


def test_resume_continues_at_the_next_epoch(trained, tmp_path):
    import shutil

    ckpt_dir = tmp_path / "ck"
    shutil.copytree(trained["ckpt_dir"], ckpt_dir)
    proc = run("train.py", "--train_manifest", trained["manifest"], "--epochs", "3", "--resume", "auto",
               "--ckpt_path", str(ckpt_dir), *TINY)
    assert "resumed from" in proc.stdout and "DeepSpeech-2_5.ckpt: epoch 3, step 0" in proc.stdout
    assert "epoch: 1 step:" not in proc.stdout and re.search(r"^epoch: 3 step: 5, loss is", proc.stdout, re.M)
    assert (ckpt_dir / "DeepSpeech-3_5.ckpt").exists()


def test_eval_prints_the_reference_format_and_json(trained, tmp_path):
    result = tmp_path / "r.json"
    proc = run("eval.py", "--pretrain_ckpt", str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt"),
               "--test_manifest", trained["manifest"], "--batch_size", "8", "--result_file", str(result))
    lines = proc.stdout.splitlines()
    assert lines.count("") == 20
    assert sum(1 for line in lines if line.startswith("Ref: ")) == 20
    assert all(re.fullmatch(r"WER: \d+(\.\d+)? CER: \d+(\.\d+)?", line) for line in lines if line.startswith("WER:"))
    summary = re.search(r"^Test Summary \tAverage WER (\d+\.\d{3})\tAverage CER (\d+\.\d{3})\t$", proc.stdout, re.M)
    assert summary
    doc = json.loads(result.read_text())
    assert len(doc["results"]) == 20 and f"{doc['wer']:.3f}" == summary.group(1)
    refs = {r["ref"] for r in doc["results"]}
    assert "SEVEN" in refs


def test_export_reloads_with_graphcell_and_matches(trained):
    ckpt = str(trained["ckpt_dir"] / "DeepSpeech-1_5.ckpt")
    proc = run("export.py", "--pre_trained_model_path", ckpt, "--batch_size", "2", "--input_frames", "120")
    mindir = ckpt[:-5] + ".mindir"
    assert os.path.isfile(mindir) and "input [2, 1, 161, 120]" in proc.stdout
    check = run("-m", "src.tools.check_export", "--ckpt", ckpt, "--mindir", mindir, "--batch_size", "2",
                "--input_frames", "120")
    assert "-> OK" in check.stdout


def test_eval_on_real_librispeech_with_apostrophes(trained, tmp_path):
    from src.prep.librispeech import convert_librispeech_tree

    manifests = convert_librispeech_tree(LIBRI, str(tmp_path / "libri"), workers=2)
    (manifest,) = manifests.values()
    proc = run("eval.py", "--pretrain_ckpt", str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt"),
               "--test_manifest", manifest, "--batch_size", "10", "--result_file", str(tmp_path / "r.json"))
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["utterances"] == 50
    assert any("'" in r["ref"] for r in doc["results"])
    assert "Test Summary" in proc.stdout


def test_json_to_csv_resolves_relative_paths_and_does_not_append(tmp_path):
    (tmp_path / "split" / "wav").mkdir(parents=True)
    doc = {"root_path": "split", "samples": [{"wav_path": "wav/a.wav", "transcript_path": "txt/a.txt"}]}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    for _ in range(2):
        run("json_to_csv.py", "--json", str(tmp_path / "m.json"), "--csv", str(tmp_path / "m.csv"))
    assert (tmp_path / "m.csv").read_text() == f"{tmp_path}/split/wav/a.wav,{tmp_path}/split/txt/a.txt\n"


def test_user_errors_are_one_sentence_and_nonzero(trained, tmp_path):
    typo = run("train.py", "--train_manifest", trained["manifest"], "--bach_size", "4", check=False)
    assert typo.returncode == 2 and "did you mean --batch_size" in typo.stderr
    gpu = run("eval.py", "--pretrain_ckpt", str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt"),
              "--test_manifest", trained["manifest"], "--device_target", "GPU", check=False)
    assert gpu.returncode == 2 and "device GPU is not usable" in gpu.stderr and "Traceback" not in gpu.stderr
    missing = run("eval.py", "--pretrain_ckpt", str(tmp_path / "none.ckpt"), "--test_manifest", trained["manifest"],
                  check=False)
    assert missing.returncode == 2 and "checkpoint not found" in missing.stderr
    wrong = run("train.py", "--train_manifest", trained["manifest"], "--model_size", "small", "--epochs", "3",
                "--resume", str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt"), "--ckpt_path", str(tmp_path / "c"),
                check=False)
    assert wrong.returncode == 2 and "holds a 2 x 64 model" in wrong.stderr


def test_importing_src_caps_nothing_and_keeps_the_users_onednn_isa(tmp_path):
    """The AVX2 cap is chosen per process where a direct Conv2D runs (tests/common/test_cpu_isa.py), not here."""
    code = "import src, os; print(os.environ.get('ONEDNN_MAX_CPU_ISA'))"
    for user, expected in ((None, "None"), ("AVX512_CORE", "AVX512_CORE")):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
        env.update({"ONEDNN_MAX_CPU_ISA": user} if user else {})
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
        assert proc.stdout.strip() == expected


def test_launcher_checks_arguments_logs_and_keeps_the_exit_status(trained, tmp_path):
    env = dict(os.environ, DS2_LOG_DIR=str(tmp_path / "logs"))

    def bash(*args):
        return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)

    usage = bash("scripts/run_eval_cpu.sh")
    assert usage.returncode == 2 and "Usage: bash scripts/run_eval_cpu.sh CKPT" in usage.stdout
    missing = bash("scripts/run_eval_cpu.sh", str(tmp_path / "nope.ckpt"))
    assert missing.returncode == 2 and "CKPT not found" in missing.stderr
    ckpt = str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt")
    ok = bash("scripts/run_eval_cpu.sh", ckpt, "--test_manifest", trained["manifest"], "--verbose", "false",
              "--result_file", str(tmp_path / "r.json"))
    assert ok.returncode == 0 and "Test Summary" in ok.stdout
    assert "Test Summary" in (tmp_path / "logs" / "eval_cpu.log").read_text()
    failing = bash("scripts/run_eval_cpu.sh", ckpt, "--test_manifest", str(tmp_path / "none.csv"))
    assert failing.returncode == 2 and "manifest not found" in failing.stdout
    gpu = bash("scripts/run_standalone_train_gpu.sh", "x")
    assert gpu.returncode == 2 and "DEVICE_ID must be a number" in gpu.stderr


def test_eval_beam_search_with_lm_nbest_and_saved_outputs_for_tuning(trained, tmp_path):
    ckpt = str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt")
    run("-m", "src.tools.build_lm", "--manifest", trained["manifest"], "--out", str(tmp_path / "lm.arpa"))
    proc = run("eval.py", "--pretrain_ckpt", ckpt, "--test_manifest", trained["manifest"], "--batch_size", "8",
               "--decoder_type", "beam", "--lm_path", str(tmp_path / "lm.arpa"), "--beam_width", "8",
               "--top_paths", "2", "--lm_workers", "2", "--alpha", "0.5", "--beta", "1",
               "--save_output", str(tmp_path / "out"), "--result_file", str(tmp_path / "r.json"))
    assert re.search(r"^Test Summary \tAverage WER \d+\.\d{3}\tAverage CER \d+\.\d{3}\t$", proc.stdout, re.M)
    assert re.search(r"decoding \(beam 8, LM .*lm.arpa \(alpha 0.5, beta 1\), 2 workers\): .* s per second of audio",
                     proc.stderr)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["decoder"].startswith("beam 8") and doc["audio_seconds"] > 0
    nbest = [r["nbest"] for r in doc["results"] if "nbest" in r]  # --top_paths 2: best first, as "hyp"
    assert nbest and all(len(n) == 2 and n[0]["score"] >= n[1]["score"] for n in nbest)
    assert all(r["nbest"][0]["text"] == r["hyp"] for r in doc["results"] if "nbest" in r)
    tune = run("-m", "src.tools.tune_decoder", "--saved_output", str(tmp_path / "out.bin"), "--lm_path",
               str(tmp_path / "lm.arpa"), "--steps", "1", "--beam_width", "4", "--lm_workers", "1")
    assert "20 utterances" in tune.stdout and "best: --alpha 0 --beta 0" in tune.stdout
    wrong = run("eval.py", "--pretrain_ckpt", ckpt, "--test_manifest", trained["manifest"], "--decoder_type", "beam",
                "--lm_path", str(tmp_path / "none.arpa"), check=False)
    assert wrong.returncode == 2 and "--lm_path" in wrong.stderr and "file not found" in wrong.stderr


@pytest.mark.parametrize("workers", ["0", "two", "-1"])
def test_the_test_command_refuses_a_bad_worker_count_in_one_line(workers):
    proc = subprocess.run(["bash", "scripts/run_tests.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TEST_WORKERS=workers))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1] == (f"error: TEST_WORKERS must be a positive whole number of pytest "
                                                    f"workers, got '{workers}'")


def test_a_model_on_log_mel_features_is_refused_other_features_by_every_entry_point(trained, tmp_path):
    """--n_mels/--normalize are recorded in the checkpoint and the ONNX file; eval, export and transcribe run a
    network only on its features and name the flags. (Training with them, eval with the right flags and a
    fine-tune from such a checkpoint: tests/test_recipe.py, which runs the recipe on 40 bands.)"""
    mel = ["--n_mels", "40", "--normalize", "band"]
    ckpt = random_checkpoint(tmp_path / "mel.ckpt", n_mels=40, normalize="band")
    wrong = run("eval.py", "--pretrain_ckpt", ckpt, "--test_manifest", trained["manifest"], check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "run it with --n_mels 40 --normalize band" in wrong.stderr
    zoo = run("export.py", "--pre_trained_model_path", str(trained["ckpt_dir"] / "DeepSpeech-2_5.ckpt"),
              "--file_name", str(tmp_path / "z"), *mel, check=False)
    assert zoo.returncode == 2 and "run it with --n_mels 0 --normalize utterance" in zoo.stderr
    # ONNX files record the features too (INT8 keeps them): ONNX Runtime users can read them, transcribe checks
    run("export.py", "--pre_trained_model_path", ckpt, "--file_format", "ONNX", "--quantize", "int8",
        "--file_name", str(tmp_path / "m"), *mel)
    import onnx

    for name in ("m.onnx", "m.int8.onnx"):
        props = {p.key: p.value for p in onnx.load(str(tmp_path / name)).metadata_props}
        assert props["n_mels"] == "40" and props["spect_normalize"] == "band", name
    clip = open(trained["manifest"]).readline().split(",")[0]
    other = run("transcribe.py", clip, "--onnx", str(tmp_path / "m.int8.onnx"), "--n_mels", "40", check=False)
    assert other.returncode == 2 and "(--n_mels 40 --normalize utterance): run it with --n_mels 40 --normalize band" \
        in other.stderr
    assert run("transcribe.py", clip, "--onnx", str(tmp_path / "m.int8.onnx"), *mel).returncode == 0
