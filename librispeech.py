"""Prepare LibriSpeech for training: download (or take tarballs / an extracted tree), convert, manifests.

    python librispeech.py --target-dir data                       # all 7 parts from openslr.org
    python librispeech.py --target-dir data --files-to-use train-clean-100.tar.gz,dev-clean.tar.gz,test-clean.tar.gz
    python librispeech.py --target-dir data --tarball-dir ~/Downloads/librispeech
    python librispeech.py --target-dir data --libri-root /corpora/LibriSpeech

Writes data/<split>/wav|txt and data/libri_{train,val,test_clean,test_other}_manifest.{json,csv}
(the CSVs are what config.py reads). Interrupt it any time; re-running resumes. The logic is in
src/prep/librispeech.py.
"""
import sys

from src.common.errors import run_main
from src.prep.librispeech import main

if __name__ == "__main__":
    sys.exit(run_main(main, prefix="[prep] ", resumable=True))
