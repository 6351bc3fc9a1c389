"""Small real-audio data sets for tests, made from ../shared/data (FSDD, resampled with sox)."""
import os
import subprocess

SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
FSDD = os.path.join(SHARED, "fsdd", "recordings")
LIBRI = os.path.join(SHARED, "librispeech-sample", "LibriSpeech")
WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]


def fsdd_manifest(folder, speakers=("jackson",), per_digit=2, name="m.csv"):
    """A CSV manifest of FSDD clips converted to 16 kHz wav; returns its path."""
    os.makedirs(folder, exist_ok=True)
    lines = []
    for speaker in speakers:
        for digit in range(10):
            for index in range(per_digit):
                base = f"{digit}_{speaker}_{index}"
                wav, txt = os.path.join(folder, base + ".wav"), os.path.join(folder, base + ".txt")
                if not os.path.exists(wav):
                    subprocess.run(["sox", os.path.join(FSDD, base + ".wav"), "-r", "16000", "-b", "16", wav],
                                   check=True, capture_output=True)
                with open(txt, "w") as fh:
                    fh.write(WORDS[digit].lower() + "\n")
                lines.append(f"{wav},{txt}")
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path
