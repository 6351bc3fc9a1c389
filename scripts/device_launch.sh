#!/usr/bin/env bash
# GPU/Ascend launchers share this: usage checks, then train.py/eval.py on one device.
# device_train DEVICE [DEVICE_ID] [PRETRAINED_CKPT] [--overrides...]
# device_eval DEVICE DEVICE_ID CKPT [--overrides...]
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

_check_device_id() {
    if ! [[ "$1" =~ ^[0-9]+$ ]]; then echo "error: DEVICE_ID must be a number, got '$1'" >&2; exit 2; fi
}

device_train() {
    local device="$1"; shift
    local device_id=0 args=()
    if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then device_id="$1"; _check_device_id "$device_id"; shift; fi
    if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then
        local ckpt; ckpt=$(get_real_path "$1"); shift
        require_file "$ckpt" "PRETRAINED_CKPT"
        args+=(--pre_trained_model_path "$ckpt")
    fi
    local lower; lower=$(echo "$device" | tr 'A-Z' 'a-z')
    export DEVICE_ID="$device_id"
    [ "$device" == "GPU" ] && export CUDA_VISIBLE_DEVICES="$device_id"
    run_logged "${DS2_LOG_DIR:-$PWD/logs}/train_${lower}_${device_id}.log" \
        python "$DS2_ROOT/train.py" --device_target "$device" --device_id "$([ "$device" == "GPU" ] && echo 0 || echo "$device_id")" "${args[@]}" "$@"
}

device_eval() {
    local device="$1" device_id="$2" ckpt
    _check_device_id "$device_id"
    ckpt=$(get_real_path "$3"); shift 3
    require_file "$ckpt" "CKPT"
    local lower; lower=$(echo "$device" | tr 'A-Z' 'a-z')
    export DEVICE_ID="$device_id"
    [ "$device" == "GPU" ] && export CUDA_VISIBLE_DEVICES="$device_id"
    run_logged "${DS2_LOG_DIR:-$PWD/logs}/eval_${lower}_${device_id}.log" \
        python "$DS2_ROOT/eval.py" --device_target "$device" --device_id "$([ "$device" == "GPU" ] && echo 0 || echo "$device_id")" --pretrain_ckpt "$ckpt" "$@"
}
