"""A built wheel, installed outside the checkout, finds its built-in recipes and presets."""
import os
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(argv, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, '%s failed:\n%s%s' % (argv, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.slow
def test_wheel_installed_elsewhere_renders_and_trains_by_name(tmp_path):
    wheels = tmp_path / 'wheels'
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
          '--no-index', '-w', str(wheels), ROOT])
    wheel, = wheels.glob('gqn_toolkit-*.whl')
    # A fresh venv with the wheel; its dependencies (Chainer, pyrender...) are this
    # environment's, seen through a .pth file (which does not run this environment's
    # editable-install hook, so the checkout is not importable there).
    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)])
    python = str(venv / 'bin' / 'python')
    site = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    with open(os.path.join(site.strip(), 'deps.pth'), 'w') as f:
        f.write('\n'.join(dict.fromkeys((sysconfig.get_paths()['purelib'],
                                         sysconfig.get_paths()['platlib']))) + '\n')
    _run([sys.executable, '-m', 'pip', '--python', python, 'install', '-q', '--no-deps',
          '--no-index', str(wheel)])
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    where = _run([python, '-c', 'import gqn, renderer; print(gqn.__file__, renderer.__file__)'],
                 cwd=elsewhere)
    assert ROOT not in where and str(venv) in where
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
