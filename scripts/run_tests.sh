#!/usr/bin/env bash
# The test suite: runs the (idempotent) set-up first, then pytest on tests/ on TEST_WORKERS pytest-xdist
# workers (default 2, one per core of the CI machine; 1 runs serially). Each test file stays on one worker
# (--dist loadfile), so a module's expensive fixture (a training run) is built once.
# With arguments, pytest runs serially on them, e.g. `bash scripts/run_tests.sh tests/data/test_features.py -x`.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$DS2_ROOT"
if [ $# -gt 0 ]; then
    exec python -m pytest -q -p no:cacheprovider "$@"
fi
TEST_WORKERS=${TEST_WORKERS:-2}
if ! [[ "$TEST_WORKERS" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: TEST_WORKERS must be a positive whole number of pytest workers, got '$TEST_WORKERS'" >&2
    exit 2
fi
if [ "$TEST_WORKERS" -gt 1 ]; then
    exec python -m pytest -q -p no:cacheprovider -n "$TEST_WORKERS" --dist loadfile tests
fi
exec python -m pytest -q -p no:cacheprovider tests
