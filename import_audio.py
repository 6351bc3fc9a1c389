"""Import your own recordings: a folder of audio (any format and sample rate sox reads) + transcripts.

    python import_audio.py --audio-dir ~/recordings --name mydata --target-dir data
    python import_audio.py --audio-dir ~/recordings --transcripts list.txt --name mydata   # 'path|text' lines
    python import_audio.py --audio-dir ~/recordings --transcripts list.csv --name mydata   # 'path,text' rows

Writes data/mydata/wav|txt (16 kHz mono 16-bit wav, upper-case text) and
data/mydata_manifest.{csv,json}, like librispeech.py. Safe to interrupt and re-run. The logic is
in src/prep/audio_import.py.
"""
import sys

from src.prep.audio_import import main
from src.prep.common import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
