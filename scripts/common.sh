#!/usr/bin/env bash
# Shared by the launchers: set-up on first use, absolute paths, and logged runs that keep the
# job's exit status. Source it; do not run it.

DS2_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Idempotent: installs system packages / the venv only when missing, then activates the venv.
# shellcheck source=setup.sh
. "$DS2_ROOT/scripts/setup.sh"

get_real_path() {
    if [ "${1:0:1}" == "/" ]; then echo "$1"; else echo "$(realpath -m "$PWD/$1")"; fi
}

# run_logged LOGFILE CMD...: the output goes to the console and to LOGFILE; returns CMD's status.
run_logged() {
    local log="$1"; shift
    mkdir -p "$(dirname "$log")"
    echo "[$(date '+%F %T')] $*" >> "$log"
    set +e
    "$@" 2>&1 | tee -a "$log"
    local status=${PIPESTATUS[0]}
    set -e
    echo "log: $log (exit status $status)"
    return "$status"
}

# require_file PATH WHAT: a clear message instead of a Python traceback later.
require_file() {
    if [ ! -f "$1" ]; then echo "error: $2 not found: $1" >&2; exit 2; fi
}
