#!/usr/bin/env bash
# Installs everything the toolkit needs on a fresh Debian/Ubuntu machine:
# the system libraries for headless rendering (EGL + Mesa llvmpipe) and MPI,
# then a virtual environment with Chainer 7.8.1, pyrender and the project.
#
# Usage: bash scripts/install.sh [--pinned] [--cuda] [--browser] [VENV_DIR]  (default: .venv)
#   (no flag)  the newest supported Python found (3.13, 3.12, 3.11, 3.10, in that
#              order; pyenv's installs are looked at too) with the newest NumPy
#   --pinned   the pinned stack: Python 3.11 and NumPy 1.26 (setuptools < 74)
#   --cuda     also CuPy and the CUDA libraries it loads (see scripts/cuda.sh)
#   --browser  only the headless Chromium and its driver that the viewer's browser test
#              drives (apt: chromium, chromium-driver); `make test` asks for it
#   --which-python  print the interpreter that would be used and stop
#   PYTHON=/path/to/python overrides the choice of interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

PINNED=0; CUDA=0; WHICH=0; BROWSER=0; VENV=.venv
for arg in "$@"; do
  case "$arg" in
    --pinned) PINNED=1 ;;
    --cuda) CUDA=1 ;;
    --which-python) WHICH=1 ;;
    --browser) BROWSER=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) VENV=$arg ;;
  esac
done

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {  # apt_install PKG... : install the missing ones
  local missing="" p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "install.sh: missing system packages:$missing (install them with your package manager)" >&2
    exit 1
  fi
  echo "==> apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
if [ $BROWSER = 1 ]; then
  apt_install chromium chromium-driver
  exit 0
fi
# A working interpreter in 3.10..3.13 with venv (a pyenv shim of a version that is not
# active exits non-zero, so each candidate is run, not just looked up).
usable() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' \
    >/dev/null 2>&1
}
find_python() {  # find_python VERSION... : the first usable interpreter of these versions
  local v c root
  root=$( (command -v pyenv >/dev/null && pyenv root) 2>/dev/null || echo "$HOME/.pyenv")
  for v in "$@"; do
    for c in "python$v" /usr/bin/python$v /usr/local/bin/python$v "$root"/versions/$v*/bin/python$v; do
      if command -v "$c" >/dev/null 2>&1 && usable "$c"; then command -v "$c"; return 0; fi
    done
  done
  return 1
}
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  if [ $PINNED = 1 ]; then
    PYTHON=$(find_python 3.11) || {
      echo "install.sh: --pinned needs Python 3.11 (Debian 12's python3; or pyenv install 3.11)" >&2
      exit 1; }
  else
    # Debian/Ubuntu split venv and ensurepip out of python3: add them if that is all
    # that is missing.
    PYTHON=$(find_python 3.13 3.12 3.11 3.10) || {
      [ $WHICH = 1 ] && exit 1
      apt_install python3 python3-venv
      PYTHON=$(find_python 3.13 3.12 3.11 3.10) || {
        echo "install.sh: Python 3.10-3.13 with venv is required (found: $(python3 -V 2>&1))" >&2
        exit 1; }; }
  fi
fi
if ! usable "$PYTHON"; then
  echo "install.sh: $PYTHON is not a Python 3.10-3.13 with venv" >&2
  exit 1
fi
if [ $WHICH = 1 ]; then echo "$PYTHON"; exit 0; fi

# EGL + Mesa's software rasteriser for headless pyrender; Open MPI for multi-process
# training and rendering (mpi4py's wheels link against it).
apt_install libegl1 libgl1 libgl1-mesa-dri openmpi-bin libopenmpi-dev

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $PYTHON ($("$PYTHON" -V 2>&1))"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
if [ $PINNED = 1 ]; then
  echo "==> the pinned stack: setuptools<74 and numpy 1.26 first (Chainer 7.8.1 builds against them)"
  $PIP install -q "setuptools>=70.1,<74" wheel "numpy>=1.26,<2"
else
  echo "==> build tools: setuptools<80 (Chainer 7.8.1's setup.py needs pkg_resources) and numpy"
  $PIP install -q "setuptools>=70.1,<80" wheel "numpy>=1.26,<3"
fi
echo "==> installing chainer, pyrender and the gqn toolkit (a few minutes the first time)"
# PIP_NO_BUILD_ISOLATION=0 turns build isolation *off*: chainer's sdist must
# build against the pinned setuptools/numpy above.
PIP_NO_BUILD_ISOLATION=0 $PIP install -q -e ".[test]"
# pyrender 0.1.45 pins PyOpenGL==3.1.0 (which renders too: renderer/platform.py mends
# its EGL bindings); 3.1.10 was measured ~30% faster and works with the same API.
# pip warns about the pin; the warning is expected.
$PIP install -q "PyOpenGL==3.1.10" 2>&1 | grep -v -e "dependency conflicts" -e "pyrender 0.1.45 requires PyOpenGL" || true
if [ $CUDA = 1 ]; then
  bash scripts/cuda.sh "$VENV"
fi
$VENV/bin/python -c "import gqn, chainer, pyrender, renderer, numpy, sys; print('==> installed into $VENV: Python %d.%d, NumPy %s, Chainer %s' % (sys.version_info[:2] + (numpy.__version__, chainer.__version__)))"
