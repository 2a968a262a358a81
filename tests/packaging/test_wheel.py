"""The wheelhouse installs the toolkit with no package index, and the wheel works anywhere.

``scripts/wheelhouse.sh`` builds every wheel for this Python (Chainer from its sdist);
pip then resolves all the dependencies from it alone in a fresh venv (PyOpenGL 3.1.0,
as pyrender pins it), and the installed wheel, used outside the checkout, renders and
trains with its built-in recipes and presets.
"""
import os
import subprocess
import sys

import numpy
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(argv, cwd=None, **env):
    env = dict({k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}, **env)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, '%s failed:\n%s%s' % (argv, done.stdout, done.stderr)
    return done.stdout


def _offline_pip(python, *args):
    """pip with no index and no configuration (this machine's find-links, constraints)."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH' and not k.startswith('PIP_')}
    env['PIP_CONFIG_FILE'] = os.devnull
    done = subprocess.run([python, '-m', 'pip', '--disable-pip-version-check', *args], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, 'pip %s failed:\n%s%s' % (args, done.stdout, done.stderr)


@pytest.mark.slow
def test_wheelhouse_installs_offline_and_the_wheel_renders_and_trains_elsewhere(tmp_path):
    wheelhouse = tmp_path / 'wheelhouse'
    # the stack this suite runs on: the pinned one (NumPy 1.26) or the newest
    pinned = ['--pinned'] if int(numpy.__version__.split('.')[0]) < 2 else []
    _run(['bash', os.path.join(ROOT, 'scripts', 'wheelhouse.sh'), *pinned, str(wheelhouse)],
         PYTHON=sys.executable)
    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', str(venv)])  # its own pip, no other site packages
    python = str(venv / 'bin' / 'python')
    _offline_pip(python, 'install', '-q', '--no-compile', '--no-index', '--find-links', str(wheelhouse),
                 'gqn-toolkit')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    where = _run([python, '-c', 'import gqn, renderer, OpenGL; '
                  'print(gqn.__file__, renderer.__file__, OpenGL.__version__)'], cwd=elsewhere)
    assert ROOT not in where and str(venv) in where
    assert where.split()[-1] == '3.1.0'  # pyrender 0.1.45's pin, which renderer.platform mends
    gqn = str(venv / 'bin' / 'gqn')
    _run([gqn, 'render', 'shepard_matzler_small', '--train-scenes', '2', '--test-scenes', '1',
          '--no-progress'], cwd=elsewhere)
    assert (elsewhere / 'datasets' / 'shepard_matzler_small' / 'manifest.json').is_file()
    # cpu_small's default dataset is datasets/shepard_matzler_demo under the working directory
    _run([gqn, 'render', 'shepard_matzler_demo', '--train-scenes', '2', '--test-scenes', '1',
          '--no-progress', '--set', 'views=3'], cwd=elsewhere)
    _run([gqn, 'train', 'cpu_small', '--iterations', '2', '--quiet', '--out', 'run'],
         cwd=elsewhere)
    assert (elsewhere / 'run' / 'model' / 'model.npz').is_file()
