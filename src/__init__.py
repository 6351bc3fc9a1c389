"""DeepSpeech2 on MindSpore 2.x.

The packages follow the data flow: ``data`` (manifest -> samples -> features -> batches) ->
``model`` (network, checkpoints) -> ``training`` (loss, optimiser, loop); and
``inference`` -> ``decoding`` -> ``evaluation`` (report). ``prep`` builds corpora, ``tools``
holds the ``python -m`` utilities, ``config`` the one schema, ``common`` what every stage shares.

Importing this package caps oneDNN at AVX2 before MindSpore loads. On AVX-512 CPUs MindSpore's
CPU Conv2D otherwise falls back to oneDNN's *reference* kernel (under 1 GFLOP/s), which made the
conv front-end ~100x slower than PyTorch (see ../shared/GUIDE.md). A value the user set wins.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the project folder

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
# glog noise from MindSpore's C++ side drowns the training log; the user can still raise it.
os.environ.setdefault("GLOG_v", "3")
