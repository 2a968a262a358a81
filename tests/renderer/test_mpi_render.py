"""``mpiexec -n 2 gqn render``: shards split across ranks, same bytes as one process."""
import filecmp
import os
import shutil
import subprocess
import sys

import pytest

from gqn.data import shards

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE = '''family = "shepard_matzler"
image_size = 16
views = 3
train_scenes = 9
test_scenes = 4
scenes_per_shard = 2
'''
pytestmark = [pytest.mark.mpi, pytest.mark.slow,
              pytest.mark.skipif(shutil.which('mpiexec') is None,
                                 reason='no mpiexec (Debian: openmpi-bin libopenmpi-dev)')]


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


def render(recipe, out, ranks):
    env = dict(os.environ, PYTHONPATH=PROJECT)
    cmd = [sys.executable, '-m', 'gqn.cli', 'render', recipe, '--out', out, '--workers', '1',
           '--no-progress']
    if ranks > 1:
        cmd = ['mpiexec', '--allow-run-as-root', '--oversubscribe', '-n', str(ranks)] + cmd
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_two_ranks_write_the_same_bytes_and_resume(tmp_path):
    pytest.importorskip('mpi4py')
    recipe = str(tmp_path / 'tiny.toml')
    with open(recipe, 'w') as f:
        f.write(RECIPE)
    single, multi = str(tmp_path / 'one'), str(tmp_path / 'two')
    assert render(recipe, single, 1).returncode == 0
    done = render(recipe, multi, 2)
    assert done.returncode == 0, done.stderr
    assert '2 ranks rendered 7 shards' in done.stdout
    files = tree(single)
    # images, viewpoints, scene specs and instance masks of 7 shards
    assert files == tree(multi) and 'manifest.json' in files and len(files) == 1 + 4 * 7
    assert 'train/masks/0003.npy' in files
    assert not filecmp.cmpfiles(single, multi, files, shallow=False)[1]

    # the state a killed job leaves: some shards, no manifest, the in-progress marker
    os.rename(os.path.join(multi, shards.MANIFEST), os.path.join(multi, 'render-in-progress.json'))
    for split, index in (('train', 1), ('test', 0)):
        for path in shards.shard_paths(multi, split, index) + (
                shards.mask_path(multi, split, index),):
            os.remove(path)
    with open(os.path.join(multi, 'train', 'images', '0003.npy.tmp123'), 'wb') as f:
        f.write(b'half a shard')
    again = render(recipe, multi, 2)
    assert again.returncode == 0, again.stderr
    assert 'resuming, 2 of 7 shards left' in again.stdout
    assert tree(multi) == files
    assert not filecmp.cmpfiles(single, multi, files, shallow=False)[1]
