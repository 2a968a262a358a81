#!/usr/bin/env bash
# Installs everything the toolkit needs on a fresh Debian/Ubuntu machine:
# the system libraries for headless rendering (EGL + Mesa llvmpipe) and MPI,
# then a virtual environment with Chainer 7.8.1, pyrender and the project.
# Usage: bash scripts/install.sh [VENV_DIR]     (default: .venv)
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."

APT_PACKAGES="libegl1 libgl1 libgl1-mesa-dri openmpi-bin libopenmpi-dev"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "install.sh: missing system packages:$missing (install them with your package manager)" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "==> apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$c; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "install.sh: Python 3.11 is required (Chainer 7.8.1 needs numpy.distutils, gone in 3.12)" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
echo "==> installing build tools (setuptools<74, numpy<2: Chainer 7.8.1 needs both)"
$PIP install -q "setuptools>=70.1,<74" wheel "numpy>=1.24,<2"
echo "==> installing chainer, pyrender and the gqn toolkit (a few minutes the first time)"
# PIP_NO_BUILD_ISOLATION=0 turns build isolation *off*: chainer's sdist must
# build against the pinned setuptools/numpy above.
PIP_NO_BUILD_ISOLATION=0 $PIP install -q -e ".[test]"
# pyrender 0.1.45 pins PyOpenGL==3.1.0; 3.1.10 is ~30% faster and works with
# the same API. pip warns about the pin; the warning is expected.
$PIP install -q "PyOpenGL==3.1.10" 2>&1 | grep -v -e "dependency conflicts" -e "pyrender 0.1.45 requires PyOpenGL" || true
$VENV/bin/python -c "import chainer, pyrender, gqn, renderer" 
echo "==> installed into $VENV"
