"""Checkpoint -> WER/CER in the model zoo's printed format, the JSON result and the Markdown report."""
