#!/usr/bin/env bash
# The test suite: runs the (idempotent) set-up first, then pytest. Extra arguments go to pytest.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$DS2_ROOT"
exec python -m pytest -q -p no:cacheprovider tests "$@"
