"""DeepSpeech2 on MindSpore 2.x.

The packages follow the data flow: ``data`` (manifest -> samples -> features -> batches) ->
``model`` (network, checkpoints) -> ``training`` (loss, optimiser, loop); and
``inference`` -> ``decoding`` -> ``evaluation`` (report). ``prep`` builds corpora, ``tools``
holds the ``python -m`` utilities, ``config`` the one schema, ``common`` what every stage shares.

oneDNN's instruction set is no longer capped process-wide here: on AVX-512 CPUs MindSpore's CPU
Conv2D runs oneDNN's *reference* kernel, which an AVX2 cap avoids at the price of halving every
MatMul. On the CPU the network's convs are MatMuls, so ``src/common/cpu_isa.py`` caps oneDNN only
in processes where a direct Conv2D still runs, chosen when the network is built (oneDNN reads
the limit at its first primitive). A ``ONEDNN_MAX_CPU_ISA`` the user set wins.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the project folder

# glog noise from MindSpore's C++ side drowns the training log; the user can still raise it.
os.environ.setdefault("GLOG_v", "3")
