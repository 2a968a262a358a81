#!/usr/bin/env bash
# Every wheel the toolkit needs for one Python, in one folder, for installs without a
# package index: the project, Chainer 7.8.1 (built here from its sdist), pyrender, trimesh,
# PyOpenGL (built from its sdist), the test extra (pytest, mpi4py) and all their dependencies.
#
# Usage: bash scripts/wheelhouse.sh [--pinned] [--gpu] [WHEELHOUSE]   (default: wheelhouse;
#        its wheels from an earlier run are removed first)
#   (no flag)  for the newest supported Python found and the newest NumPy (as install.sh)
#   --pinned   for the pinned stack: Python 3.11 and NumPy 1.26 (setuptools < 74)
#   --gpu      also WHEELHOUSE/gpu/: what scripts/gpu_check.sh needs on a machine that
#              has its own NumPy and CuPy (below); it must fit in 64 MiB
#   PYTHON=/path/to/python chooses the interpreter the wheels are for.
# Building needs the package index (once; pip's cache serves later runs). Then, offline:
#   python -m venv .venv && .venv/bin/pip install --no-index --find-links WHEELHOUSE gqn-toolkit
# (gqn-toolkit[test] adds pytest and mpi4py). The system libraries of scripts/install.sh
# (libegl1 libgl1 libgl1-mesa-dri, and Open MPI for mpi4py) are not wheels.
#
# The GPU subset is the dependency closure of gqn-toolkit and pytest without NumPy (the
# machine's own) and without the branches the GPU check never imports: scipy,
# scikit-learn (the offline digits of mnist_dice), matplotlib (bench/curves.py),
# viser (gqn view's web page) and mpi4py. Install it with --no-deps beside the
# machine's NumPy and CuPy:
#   python -m venv --system-site-packages .venv-gpu
#   .venv-gpu/bin/pip install --no-index --no-deps WHEELHOUSE/gpu/*.whl
#   PY=.venv-gpu/bin/python bash scripts/gpu_check.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PINNED=0; GPU=0; WH=$ROOT/wheelhouse
for arg in "$@"; do
  case "$arg" in
    --pinned) PINNED=1 ;;
    --gpu) GPU=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "wheelhouse.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) WH=$arg ;;
  esac
done
mkdir -p "$WH"
WH=$(cd "$WH" && pwd)  # a relative WHEELHOUSE is taken from the working directory
cd "$ROOT"
FLAGS=(); [ $PINNED = 1 ] && FLAGS=(--pinned)
PYTHON=${PYTHON:-$(bash scripts/install.sh "${FLAGS[@]}" --which-python)} || {
  echo "wheelhouse.sh: no Python 3.10-3.13 with venv found (PYTHON=/path/to/python chooses one)" >&2
  exit 1; }

rm -rf "$WH"/*.whl "$WH/gpu"
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
echo "==> a build venv with $PYTHON ($("$PYTHON" -V 2>&1))"
"$PYTHON" -m venv "$BUILD/venv"
PIP="$BUILD/venv/bin/python -m pip --disable-pip-version-check"
# Chainer's and PyOpenGL's sdists build without isolation, against setuptools < 80 (Chainer's
# setup.py needs pkg_resources; setup.cfg says why); the constraints pick the stack.
if [ $PINNED = 1 ]; then
  printf 'numpy>=1.26,<2\nsetuptools>=70.1,<74\n' > "$BUILD/constraints.txt"
else
  printf 'setuptools>=70.1,<80\n' > "$BUILD/constraints.txt"
fi
$PIP install -q -c "$BUILD/constraints.txt" setuptools wheel packaging
echo "==> wheels of gqn-toolkit[test] and all its dependencies into $WH"
$PIP wheel -q --no-build-isolation -c "$BUILD/constraints.txt" -w "$WH" ".[test]"

# Resolves everything from the wheelhouse alone: no index, no configuration (this
# machine's find-links or constraints), nothing installed counted.
echo "==> checking that the wheelhouse resolves gqn-toolkit[test] with no index"
env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
  $PIP install -q --dry-run --ignore-installed --no-index --find-links "$WH" "gqn-toolkit[test]"

mib() { du -sk --apparent-size "$@" | awk '{s += $1} END {printf "%.1f MiB", s / 1024}'; }
echo "==> $WH: $(ls "$WH"/*.whl | wc -l) wheels, $(mib "$WH"/*.whl) (Python $("$BUILD/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'))"

if [ $GPU = 1 ]; then
  mkdir "$WH/gpu"
  "$BUILD/venv/bin/python" - "$WH" <<'PY'
import glob, os, shutil, sys, zipfile
from email.parser import Parser

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

wheelhouse = sys.argv[1]
ROOTS = ['gqn-toolkit', 'pytest']
LEFT_OUT = {'numpy', 'cupy', 'scipy', 'scikit-learn', 'matplotlib', 'mpi4py', 'viser'}
wheels = {}
for path in glob.glob(os.path.join(wheelhouse, '*.whl')):
    name = parse_wheel_filename(os.path.basename(path))[0]
    with zipfile.ZipFile(path) as z:
        meta, = [n for n in z.namelist()  # not those vendored inside (setuptools)
                 if n.endswith('.dist-info/METADATA') and n.count('/') == 1]
        requires = Parser().parsestr(z.read(meta).decode()).get_all('Requires-Dist') or []
    wheels[name] = path, [Requirement(r) for r in requires]
todo, keep = [canonicalize_name(r) for r in ROOTS], set()
while todo:
    name = todo.pop()
    if name in keep or name in LEFT_OUT:
        continue
    keep.add(name)
    for req in wheels[name][1]:
        if req.marker is None or req.marker.evaluate({'extra': ''}):
            todo.append(canonicalize_name(req.name))
for name in sorted(keep):
    shutil.copy2(wheels[name][0], os.path.join(wheelhouse, 'gpu'))
PY
  echo "==> $WH/gpu: $(ls "$WH"/gpu/*.whl | wc -l) wheels, $(mib "$WH"/gpu/*.whl) (the GPU check's, beside NumPy and CuPy)"
  if [ "$(du -sk --apparent-size "$WH"/gpu/*.whl | awk '{s += $1} END {print s}')" -gt $((64 * 1024)) ]; then
    echo "wheelhouse.sh: $WH/gpu is over 64 MiB" >&2
    exit 1
  fi
fi
