"""The DeepSpeech2 network, its geometry stated once, conv2 through the DFT, static/dynamic time axes, checkpoints and their generations."""
