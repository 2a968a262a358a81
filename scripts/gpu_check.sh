#!/usr/bin/env bash
# The GPU check: the CUDA path of the toolkit on one GPU, in under 10 minutes.
#
#   bash scripts/gpu_check.sh [OUTDIR]      (default OUTDIR: gpu_check_out; run from anywhere)
#
#   PY=python      the interpreter with the project installed (default: .venv/bin/python)
#   DEVICE=@cupy:0 the device; DEVICE=@numpy checks this script on a CPU (measures nothing)
#   BUDGET=570     seconds for the whole check; later stages get what is left
#
# Stages, each under its own timeout (a failed stage does not stop the others); each
# writes OUTDIR/<stage>.log, and the bench/gpu.py stages print JSON there:
#   env            versions, device, cuDNN, TF32, an NVRTC compile (stops the check if it fails)
#   pytest         pytest -m gpu (float32 kernels, a training step CPU vs GPU, resume, eval)
#   pytest_notf32  the same with NVIDIA_TF32_OVERRIDE=0
#   equality       a float64 and a float32 training step on the CPU and on the GPU
#   timing         paper_64 at batch 36: seconds per step, GPU memory, cuDNN autotune
#   cli            gqn train -> --resume -> gqn eval -> gqn gif on the GPU
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-gpu_check_out}" && cd "${1:-gpu_check_out}" && pwd)
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-@cupy:0}
BUDGET=${BUDGET:-570}
export MPLBACKEND=Agg
START=$(date +%s)
: > "$OUT/summary.txt"

stage() {  # stage NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2 t0 left rc; shift 2
  t0=$(date +%s); left=$(( BUDGET - (t0 - START) ))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    printf '%-14s skipped (time budget spent)\n' "$name" | tee -a "$OUT/summary.txt"; return 1
  fi
  echo "=== $name (limit ${limit}s)"
  timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1; rc=$?
  printf '%-14s rc=%-3s %4ss\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" | tee -a "$OUT/summary.txt"
  tail -n 30 "$OUT/$name.log"
  return $rc
}

bench() { stage "$1" "$2" "$PY" bench/gpu.py "$1" --device "$DEVICE" --out "$OUT/$1"; }
bench env 90 || { echo "no usable CUDA device: stopping (see $OUT/env.log)"; exit 1; }
if [ "$DEVICE" != @numpy ]; then
  stage pytest 150 "$PY" -m pytest -m gpu -p no:cacheprovider tests/gqn
  stage pytest_notf32 120 env NVIDIA_TF32_OVERRIDE=0 "$PY" -m pytest -m gpu -p no:cacheprovider tests/gqn
fi
NVIDIA_TF32_OVERRIDE=0 bench equality 150
bench timing 150
bench cli 150
echo "=== summary ($OUT, $(( $(date +%s) - START ))s)"; cat "$OUT/summary.txt"
! grep -qv 'rc=0 ' "$OUT/summary.txt"
