#!/usr/bin/env bash
# Run a whole tgsweep sweep inside ONE SLURM allocation (batch mode).
#
# For sites where the login node may not run a long-lived dask scheduler, or where compute
# nodes cannot reach the login node.  Inside the allocation:
#   1. the batch step starts a dask scheduler that writes a scheduler file,
#   2. `srun` starts one dask worker per SLURM task (all nodes of the allocation),
#   3. `tgsweep run SPEC --out STORE --scheduler ADDRESS` (from the file) drives the sweep,
#   4. workers and scheduler are stopped; the exit code is tgsweep's.
#
# Usage (resources are ordinary sbatch options; one worker per task):
#   sbatch --ntasks=64 --cpus-per-task=1 --mem-per-cpu=2G -t 04:00:00 \
#          cluster/sbatch-sweep.sh workflows/quickstart.toml data/quickstart.zarr [tgsweep run args]
#
# Environment (all optional):
#   TGSWEEP_VENV       virtualenv the job runs in (default: the one `tgsweep` is found in,
#                      else $SLURM_SUBMIT_DIR/.venv)
#   TGSWEEP_INTERFACE  network interface for scheduler and workers (e.g. ib0)
#   TGSWEEP_BATCH_DIR  shared directory for the scheduler file and logs
#                      (default: $SLURM_SUBMIT_DIR/.tgsweep-batch/$SLURM_JOB_ID)
#   TGSWEEP_WORKER_MEMORY  --memory-limit per worker (default: from SLURM_MEM_PER_CPU
#                      x cpus-per-task, else "auto")
#SBATCH -J tgsweep-sweep
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=2G
#SBATCH -t 01:00:00
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: sbatch [options] $0 SPEC STORE [tgsweep run args...]" >&2
    exit 2
fi
spec=$1 store=$2
shift 2
: "${SLURM_JOB_ID:?run this script with sbatch (or inside salloc)}"
submit_dir=${SLURM_SUBMIT_DIR:-$PWD}
cd "$submit_dir"

# --- environment -----------------------------------------------------------------------
if [[ -z ${TGSWEEP_VENV:-} ]]; then
    if command -v tgsweep >/dev/null; then
        TGSWEEP_VENV=$(dirname "$(dirname "$(command -v tgsweep)")")
    else
        TGSWEEP_VENV=$submit_dir/.venv
    fi
fi
export VIRTUAL_ENV=$TGSWEEP_VENV PATH="$TGSWEEP_VENV/bin:$PATH"
python=$TGSWEEP_VENV/bin/python
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
# node-local numba cache (expanded on each node by the worker's own shell below)
numba_cache='${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/tgsweep-numba-$(id -u)'

batch_dir=${TGSWEEP_BATCH_DIR:-$submit_dir/.tgsweep-batch/$SLURM_JOB_ID}
mkdir -p "$batch_dir"
sched_file=$batch_dir/scheduler.json
rm -f "$sched_file"
iface=()
[[ -n ${TGSWEEP_INTERFACE:-} ]] && iface=(--interface "$TGSWEEP_INTERFACE")

cpus=${SLURM_CPUS_PER_TASK:-1}
if [[ -n ${TGSWEEP_WORKER_MEMORY:-} ]]; then
    mem=$TGSWEEP_WORKER_MEMORY
elif [[ -n ${SLURM_MEM_PER_CPU:-} ]]; then
    mem="$(( SLURM_MEM_PER_CPU * cpus ))MiB"
else
    mem=auto
fi

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# --- 1. scheduler (batch step, first node) ---------------------------------------------
"$python" -m distributed.cli.dask_scheduler --scheduler-file "$sched_file" \
    --dashboard-address :0 "${iface[@]}" >"$batch_dir/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [[ -s $sched_file ]] && break; sleep 0.1; done
[[ -s $sched_file ]] || { echo "scheduler did not start; see $batch_dir/scheduler.log" >&2; exit 1; }

# --- 2. workers: one per SLURM task ----------------------------------------------------
# --overlap lets the worker step share CPUs with the (idle) batch step on the first node
srun --overlap --kill-on-bad-exit=0 --cpus-per-task="$cpus" \
    --output="$batch_dir/worker-%t.log" \
    bash -c "export NUMBA_CACHE_DIR=\"$numba_cache\"; mkdir -p \"\$NUMBA_CACHE_DIR\"; exec \"$python\" -m distributed.cli.dask_worker --scheduler-file \"$sched_file\" --nthreads $cpus --memory-limit $mem --name slurm-\$SLURM_JOB_ID-\$SLURM_PROCID --local-directory \"\${SLURM_TMPDIR:-\${TMPDIR:-/tmp}}\" --death-timeout 120 --no-dashboard ${iface[*]}" &
pids+=($!)

# --- 3. the sweep ------------------------------------------------------------------------
set +e
address=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$sched_file")
tgsweep run "$spec" --out "$store" --scheduler "$address" "$@"
rc=$?
set -e
echo "tgsweep run exited with $rc (job $SLURM_JOB_ID)" >&2
exit "$rc"
