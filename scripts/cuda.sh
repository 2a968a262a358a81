#!/usr/bin/env bash
# CuPy and the CUDA libraries it loads, from pip, for the NumPy of a venv:
#   NumPy 1.26 -> CuPy 13 (cupy-cuda12x) with cuBLAS, cuRAND, NVRTC and cuDNN 8 wheels;
#   NumPy 2.x  -> CuPy 14 (cupy-cuda12x[ctk]: CUDA 12 wheels; CuPy 14 has no cuDNN).
# Both need only an NVIDIA driver for CUDA 12 (>= 525); no CUDA toolkit. gqn finds the
# libraries itself (gqn.cuda), nothing needs exporting. NCCL (multi-GPU) is included.
# The pins are setup.cfg's extras `cuda` (NumPy 2) and `cuda-cupy13` (NumPy 1.26).
#
# Usage: bash scripts/cuda.sh [--cuda13] [--compile-only] [VENV_DIR]   (default: .venv)
#   --cuda13        CuPy 14 for CUDA 13 (cupy-cuda13x[ctk]; driver >= 580; NumPy 2 only)
#   --compile-only  just CuPy and NVRTC + CUDA headers (~200 MB), into VENV/nvrtc-check,
#                   outside the venv's import path: what the CPU-side kernel compile test
#                   (tests/gqn/kernels/test_nvrtc.py) needs; make test runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA13=0; ONLY_COMPILE=0; VENV=.venv
for arg in "$@"; do
  case "$arg" in
    --cuda13) CUDA13=1 ;;
    --compile-only) ONLY_COMPILE=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "cuda.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) VENV=$arg ;;
  esac
done
if [ ! -x "$VENV/bin/python" ]; then
  echo "cuda.sh: no venv at $VENV (run scripts/install.sh first)" >&2
  exit 1
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
NUMPY=$("$VENV/bin/python" -c 'import numpy; print(numpy.__version__.split(".")[0])')
extra() {  # extra NAME: the requirements of setup.cfg's extra NAME, the source of the pins
  "$VENV/bin/python" - "$1" <<'PY'
import configparser, sys
config = configparser.ConfigParser()
config.read('setup.cfg')
print(' '.join(line.strip() for line in config['options.extras_require'][sys.argv[1]].splitlines()
               if line.strip()))
PY
}
if [ "$NUMPY" -lt 2 ]; then
  [ $CUDA13 = 1 ] && { echo "cuda.sh: CUDA 13 needs CuPy 14, which needs NumPy 2 (this venv: NumPy 1)" >&2; exit 1; }
  REQS=$(extra cuda-cupy13)
  COMPILE_LIBS="nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12"
elif [ $CUDA13 = 1 ]; then
  REQS="cupy-cuda13x[ctk]>=14,<15 nvidia-nccl-cu13"
  COMPILE_LIBS="nvidia-cuda-nvrtc nvidia-cuda-runtime"
else
  REQS=$(extra cuda)
  COMPILE_LIBS="nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12"
fi
CUPY=${REQS%% *}; LIBS=${REQS#* }
if [ $ONLY_COMPILE = 1 ]; then
  TARGET="$VENV/nvrtc-check"
  echo "==> CuPy (${CUPY%%[[>]*} ${CUPY#*>=}) and NVRTC into $TARGET, for the kernel compile test"
  # --no-deps: NumPy and the rest come from the venv itself.
  $PIP install -q --no-deps --upgrade --target "$TARGET" "${CUPY/\[ctk\]/}" $COMPILE_LIBS cuda-pathfinder fastrlock 2>&1 \
    | grep -v -e "^WARNING: Target directory" || true
  exit 0
fi
echo "==> $CUPY and the CUDA libraries into $VENV (over 1 GB the first time)"
$PIP install -q "$CUPY" $LIBS
"$VENV/bin/python" - <<'PY'
import gqn, chainer
from chainer.backends import cuda
import cupy
print('==> CuPy %s; Chainer sees CUDA: %s, cuDNN: %s' % (
    cupy.__version__, cuda.available, cuda.cudnn_enabled))
from gqn.cuda import describe_unusable
reason = describe_unusable()
print('==> ' + ('GPU ready' if reason is None else 'not usable on this machine yet: ' + reason))
PY
