#!/usr/bin/env bash
# Idempotent set-up: system packages, a virtual environment, the pinned runtime requirements
# (requirements.txt) and the test tools (requirements-test.txt).
# Safe to run again and again: each step is skipped when already done.
# Source it (". scripts/setup.sh") to get the environment activated, or run it with bash.
#
# The venv lives outside the clone, keyed by the hash of both requirements files and the Python
# version, so a fresh clone on the same machine (CI) reuses it instead of downloading 2.5 GB again.
# Override its place with DS2_VENV=/some/dir. The project itself is not installed into it (clones
# share it): the code runs from the clone, and pytest finds it through pyproject.toml's pythonpath.
set -euo pipefail

DS2_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DS2_PYTHON="${DS2_PYTHON:-python3}"

_ds2_system_packages() {
    local missing=()
    command -v sox >/dev/null 2>&1 || missing+=(sox libsox-fmt-all)
    # sox needs its format handlers for flac/mp3/ogg input
    if command -v sox >/dev/null 2>&1 && ! sox -h 2>/dev/null | grep -q 'flac'; then missing+=(libsox-fmt-all); fi
    command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
    command -v flite >/dev/null 2>&1 || missing+=(flite)
    command -v text2wave >/dev/null 2>&1 || missing+=(festival)
    # kenlm (requirements.txt) compiles its Python module from source
    command -v g++ >/dev/null 2>&1 || missing+=(g++)
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    [ -e /usr/lib/x86_64-linux-gnu/libsndfile.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libsndfile.so.1 ] || missing+=(libsndfile1)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "[setup] installing system packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

_ds2_venv() {
    local key
    local requirements=("$DS2_ROOT/requirements.txt" "$DS2_ROOT/requirements-test.txt")
    key="$( (cat "${requirements[@]}"; "$DS2_PYTHON" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-12)"
    DS2_VENV="${DS2_VENV:-$HOME/.cache/deepspeech2-mindspore/venv-$key}"
    if [ ! -f "$DS2_VENV/.ds2-installed" ]; then
        echo "[setup] creating virtual environment $DS2_VENV"
        rm -rf "$DS2_VENV"
        "$DS2_PYTHON" -m venv "$DS2_VENV"
        "$DS2_VENV/bin/python" -m pip install -q --upgrade pip
        echo "[setup] installing requirements (MindSpore is ~2.5 GB, first time only)"
        "$DS2_VENV/bin/python" -m pip install -q -r "${requirements[0]}" -r "${requirements[1]}"
        "$DS2_VENV/bin/python" -c 'import mindspore, numpy, pytest; assert numpy.__version__ < "2", numpy.__version__' \
            || { echo "[setup] the installed MindSpore/NumPy/pytest do not import" >&2; exit 1; }
        touch "$DS2_VENV/.ds2-installed"
    fi
    # a stable name inside the clone for people who want to activate it by hand
    ln -sfn "$DS2_VENV" "$DS2_ROOT/.venv"
}

_ds2_system_packages
_ds2_venv
export PATH="$DS2_VENV/bin:$PATH"
export VIRTUAL_ENV="$DS2_VENV"
