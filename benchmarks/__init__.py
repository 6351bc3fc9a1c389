"""Benchmarks, run from the project root: ``python -m benchmarks.bench_speed`` (the shell scripts
beside it run with ``bash benchmarks/<name>.sh``)."""
