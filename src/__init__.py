"""DeepSpeech2 on MindSpore 2.x.

Importing this package caps oneDNN at AVX2 before MindSpore loads. On AVX-512 CPUs MindSpore's
CPU Conv2D otherwise falls back to oneDNN's *reference* kernel (under 1 GFLOP/s), which made the
conv front-end ~100x slower than PyTorch (see ../shared/GUIDE.md). A value the user set wins.
"""
import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
# glog noise from MindSpore's C++ side drowns the training log; the user can still raise it.
os.environ.setdefault("GLOG_v", "3")
