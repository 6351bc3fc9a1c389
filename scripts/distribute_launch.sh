#!/usr/bin/env bash
# Data-parallel training through MindSpore's own launcher, msrun (mpirun kept for GPU as the model
# zoo's alternative). Sourced by run_distribute_train_{cpu,gpu,ascend}.sh:
#   distribute_train DEVICE [WORKERS] [PRETRAINED_CKPT] [--config_key value ...]
# WORKERS is the number of processes on this node. Several nodes: run the same command on each
# node with these set (the defaults are one node on 127.0.0.1):
#   DS2_WORKER_NUM   total processes over all nodes (default: WORKERS)
#   DS2_MASTER_ADDR  address of node 0, where msrun's scheduler runs (default 127.0.0.1)
#   DS2_MASTER_PORT  a free port on node 0 (default 8118)
#   DS2_NODE_RANK    this node's index, 0 .. nodes-1 (default 0)
#   DS2_RANK_TABLE_FILE  Ascend only, optional: msrun --rank_table_file
#   DS2_LAUNCHER=mpirun  GPU only: mpirun -n WORKERS instead of msrun (needs Open MPI)
# Logs: one file per rank in ${DS2_LOG_DIR:-./logs}/distribute_<device>/worker_<rank>.log; rank 0 is
# also shown on the console. The script exits with the launcher's status.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

_check_count() {
    if ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then echo "error: $1 must be a positive number, got '$2'" >&2; exit 2; fi
}

distribute_train() {
    local device="$1"; shift
    local workers=2 args=()
    if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then workers="$1"; shift; fi
    _check_count WORKERS "$workers"
    if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then
        local ckpt; ckpt=$(get_real_path "$1"); shift
        require_file "$ckpt" "PRETRAINED_CKPT"
        args+=(--pre_trained_model_path "$ckpt")
    fi
    local total="${DS2_WORKER_NUM:-$workers}" node_rank="${DS2_NODE_RANK:-0}"
    _check_count DS2_WORKER_NUM "$total"
    if [ "$total" -lt "$workers" ]; then
        echo "error: DS2_WORKER_NUM ($total) is smaller than this node's WORKERS ($workers)" >&2; exit 2
    fi
    local lower; lower=$(echo "$device" | tr 'A-Z' 'a-z')
    local log_dir="${DS2_LOG_DIR:-$PWD/logs}/distribute_${lower}"
    mkdir -p "$log_dir"
    local train=(python "$DS2_ROOT/train.py" --device_target "$device" --is_distributed "${args[@]}" "$@")
    if [ "${DS2_LAUNCHER:-msrun}" == "mpirun" ]; then
        [ "$device" == "GPU" ] || { echo "error: DS2_LAUNCHER=mpirun is for GPU; use msrun" >&2; exit 2; }
        command -v mpirun >/dev/null 2>&1 || { echo "error: mpirun not found (install Open MPI or use msrun)" >&2; exit 2; }
        run_logged "$log_dir/mpirun.log" mpirun --allow-run-as-root -n "$workers" \
            --output-filename "$log_dir" --merge-stderr-to-stdout "${train[@]}"
        return
    fi
    local launcher=(msrun --worker_num="$total" --local_worker_num="$workers"
        --master_addr="${DS2_MASTER_ADDR:-127.0.0.1}" --master_port="${DS2_MASTER_PORT:-8118}"
        --node_rank="$node_rank" --log_dir="$log_dir" --join=True --tail_worker_log=0)
    [ -n "${DS2_RANK_TABLE_FILE:-}" ] && launcher+=(--rank_table_file="$(get_real_path "$DS2_RANK_TABLE_FILE")")
    echo "msrun: $workers of $total workers on node $node_rank; per-rank logs in $log_dir"
    run_logged "$log_dir/msrun.log" "${launcher[@]}" "${train[@]}"
}
