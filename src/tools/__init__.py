"""The `python -m src.tools.<name>` utilities: LM building and tuning, manifest and export checks, checkpoint inspection and conversion, curves, noise."""
