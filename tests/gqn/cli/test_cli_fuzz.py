"""Bad arguments and bad files for every subcommand: exit 2, one line on stderr, no traceback,
and the input data unchanged."""
import hashlib
import os
import shutil

import numpy as np
import pytest

from gqn.cli import main


def _digest(root):
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            h.update(f.encode())
            with open(os.path.join(d, f), 'rb') as fh:
                h.update(fh.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """A rendered dataset, a run trained on it, and damaged copies of both."""
    from gqn.testing.datasets import TINY_MODEL
    from gqn.training.config import TrainConfig
    from gqn.training.trainer import train
    base = tmp_path_factory.mktemp('fuzz')
    data = str(base / 'data')
    assert main(['render', 'shepard_matzler_demo', '--out', data, '--train-scenes', '8',
                 '--test-scenes', '4', '--set', 'views=4', '--set', 'image_size=16',
                 '--set', 'scenes_per_shard=4', '--workers', '1', '--no-progress']) == 0
    run = str(base / 'run')
    train(TrainConfig(dataset=data, model=TINY_MODEL, batch_size=2, iterations=2,
                      eval_scenes=2, snapshot_interval=2), run, quiet=True)
    nan = str(base / 'nan')
    shutil.copytree(data, nan)
    path = os.path.join(nan, 'test', 'viewpoints', '0000.npy')
    np.save(path, np.full_like(np.load(path), np.nan))
    partial = str(base / 'partial')
    shutil.copytree(data, partial)
    for sub in ('images', 'viewpoints'):
        os.remove(os.path.join(partial, 'train', sub, '0001.npy'))
    damaged = str(base / 'damaged.npz')
    shutil.copy(os.path.join(run, 'snapshots', 'snapshot_iter_2.npz'), damaged)
    with open(damaged, 'r+b') as f:
        f.truncate(200)
    shutil.copy(os.path.join(run, 'snapshots', 'hyperparams.json'), str(base / 'hyperparams.json'))
    a_file = str(base / 'a_file')
    with open(a_file, 'w') as f:
        f.write('x')
    return {'data': data, 'run': run, 'nan': nan, 'partial': partial, 'damaged': damaged,
            'file': a_file, 'tmp': str(base / 'out')}


R = ['render', 'shepard_matzler_demo', '--train-scenes', '2', '--test-scenes', '1',
     '--set', 'views=2', '--set', 'image_size=8', '--no-progress']
CASES = {
    'render: unknown recipe': ['render', 'no_such_recipe', '--out', '{tmp}'],
    'render: unknown key': R + ['--out', '{tmp}', '--set', 'scene.wings=2'],
    'render: no workers': R + ['--out', '{tmp}', '--workers', '0'],
    'render: out is a file': R + ['--out', '{file}'],
    'render: out under a file': R + ['--out', '{file}/x'],
    'render: into another dataset': R + ['--out', '{data}', '--set', 'scene.cubes=4'],
    'render: huge count': R + ['--out', '{tmp}', '--train-scenes', '1000000000000'],
    'check: no dataset': ['check', '{tmp}/none'],
    'check: nan viewpoints': ['check', '{nan}'],
    'check: missing shards': ['check', '{partial}'],
    'preview: no dataset': ['preview', '{tmp}/none'],
    'train: unknown preset': ['train', 'no_such_preset', '--out', '{tmp}/r'],
    'train: no dataset': ['train', 'cpu_small', '--dataset', '{tmp}/none', '--out', '{tmp}/r'],
    'train: batch 0': ['train', 'cpu_small', '--dataset', '{data}', '--batch-size', '0',
                       '--out', '{tmp}/r'],
    'train: bad device': ['train', 'cpu_small', '--dataset', '{data}', '--device', '@nope',
                          '--out', '{tmp}/r'],
    'train: nan viewpoints': ['train', 'cpu_small', '--dataset', '{nan}', '--out', '{tmp}/r',
                              '--iterations', '2', '--quiet'],
    'train: incomplete dataset': ['train', 'cpu_small', '--dataset', '{partial}',
                                  '--out', '{tmp}/r', '--iterations', '2', '--quiet'],
    'train: existing run': ['train', 'cpu_small', '--dataset', '{data}', '--out', '{run}'],
    'train: nothing to resume': ['train', '--out', '{tmp}/none', '--resume'],
    'eval: no run': ['eval', '{tmp}/none'],
    'eval: 0 scenes': ['eval', '{run}', '--scenes', '0'],
    'eval: negative scenes': ['eval', '{run}', '--scenes', '-3'],
    'eval: batch 0': ['eval', '{run}', '--batch-size', '0'],
    'eval: max context 0': ['eval', '{run}', '--max-context', '0'],
    'eval: max context too big': ['eval', '{run}', '--max-context', '99'],
    'eval: damaged snapshot': ['eval', '{damaged}'],
    'eval: nan viewpoints': ['eval', '{run}', '--dataset', '{nan}'],
    'eval: bad device': ['eval', '{run}', '--device', '@nope'],
    'eval: out is a file': ['eval', '{run}', '--scenes', '2', '--max-context', '1',
                            '--out', '{file}'],
    'gif: no run': ['gif', '{tmp}/none'],
    'gif: damaged snapshot': ['gif', '{damaged}'],
    'gif: out under a file': ['gif', '{run}', '--frames', '2', '--out', '{file}/a.gif'],
    'gif: nan viewpoints': ['gif', '{run}', '--dataset', '{nan}', '--frames', '2'],
    'import-deepmind: no source': ['import-deepmind', '{tmp}/none', '--out', '{tmp}/dm'],
}


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, case, capsys):
    before = {k: _digest(world[k]) for k in ('data', 'run', 'nan', 'partial')}
    argv = [a.format(**world) for a in CASES[case]]
    capsys.readouterr()
    assert main(argv) == 2, case
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('gqn ') and 'Traceback' not in err, err
    assert {k: _digest(world[k]) for k in before} == before
    shutil.rmtree(world['tmp'], ignore_errors=True)
