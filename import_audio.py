"""Import your own recordings: a folder of audio (any format and sample rate sox reads) + transcripts.

    python import_audio.py --audio-dir ~/recordings --name mydata --target-dir data
    python import_audio.py --audio-dir ~/recordings --transcripts list.txt --name mydata   # 'path|text' lines
    python import_audio.py --audio-dir ~/recordings --transcripts list.csv --name mydata   # 'path,text' rows

Writes data/mydata/wav|txt (16 kHz mono 16-bit wav, upper-case text) and
data/mydata_manifest.{csv,json}, like librispeech.py. Safe to interrupt and re-run. The logic is
in src/prep/audio_import.py.
"""
import sys

from src.common.errors import run_main
from src.prep.audio_import import main

if __name__ == "__main__":
    sys.exit(run_main(main, prefix="[prep] ", resumable=True))
