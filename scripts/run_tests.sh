#!/usr/bin/env bash
# The test suite: runs the (idempotent) set-up first, then pytest on tests/ (or on the
# tests/options given, e.g. `bash scripts/run_tests.sh tests/data/test_features.py -x`).
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$DS2_ROOT"
if [ $# -gt 0 ]; then
    exec python -m pytest -q -p no:cacheprovider "$@"
fi
exec python -m pytest -q -p no:cacheprovider tests
