"""Bad arguments and bad files for every subcommand: exit 2, one line on stderr, no traceback,
no RuntimeWarning, and the input data unchanged."""
import glob
import hashlib
import json
import os
import shutil
import warnings

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
    world = {'data': data, 'run': run, 'nan': nan, 'partial': partial, 'damaged': damaged,
             'file': a_file, 'tmp': str(base / 'out')}
    deep_json = '[' * 200000 + ']' * 200000
    for name, src, files in [
            ('deep_manifest', data, ['manifest.json']),
            ('deep_specs', data, ['test/scenes/0000.json']),
            ('deep_config', run, ['config.json']),
            ('deep_hyperparams', run, ['*/hyperparams.json'])]:
        world[name] = str(base / name)
        shutil.copytree(src, world[name])
        for pattern in files:
            for path in glob.glob(os.path.join(world[name], pattern)):
                with open(path, 'w') as f:
                    f.write(deep_json)
    deep_toml = '[' * 5000 + ']' * 5000
    for name, text in [('deep_recipe', 'family = "shepard_matzler"\n[scene]\ncubes = '),
                       ('deep_preset', 'batch_size = 2\nmodel = ')]:
        world[name] = str(base / (name + '.toml'))
        with open(world[name], 'w') as f:
            f.write(text + deep_toml + '\n')
    world['link'] = str(base / 'link')
    shutil.copytree(data, world['link'])
    shard = os.path.join(world['link'], 'test', 'images', '0000.npy')
    os.remove(shard)
    os.symlink(a_file, shard)
    world['unfinished'] = unfinished_import(base)
    return world


def unfinished_import(base):
    """An import stopped before its first file was done: the manifest it writes first
    (``complete: false``, no splits yet) beside the shard that was written next."""
    from gqn.data.deepmind import import_dataset
    from gqn.testing.records import encode_scene, write_records
    folder = base / 'src' / 'shepard_metzler_5_parts'
    os.makedirs(folder / 'train')
    rng = np.random.RandomState(0)
    scene = encode_scene(rng.randint(0, 256, (15, 64, 64, 3)).astype(np.uint8),
                         rng.uniform(-3, 3, (15, 5)))
    write_records(str(folder / 'train' / '000-of-001.tfrecord'), [scene])
    out = str(base / 'unfinished')
    import_dataset(str(folder), out, workers=1)
    path = os.path.join(out, 'manifest.json')
    with open(path) as f:
        manifest = json.load(f)
    with open(path, 'w') as f:
        json.dump(dict(manifest, complete=False, splits={}), f)
    return out


R = ['render', 'shepard_matzler_demo', '--train-scenes', '2', '--test-scenes', '1',
     '--set', 'views=2', '--set', 'image_size=8', '--no-progress']
ROOMS = ['render', 'rooms_ring_camera', '--train-scenes', '2', '--test-scenes', '1',
         '--set', 'views=2', '--set', 'image_size=8', '--no-progress', '--out', '{tmp}']
DICE = ['render', 'mnist_dice_ring_camera', '--train-scenes', '2', '--test-scenes', '1',
        '--set', 'views=2', '--set', 'image_size=8', '--no-progress', '--out', '{tmp}']
NESTED = 'nested more than 100 levels deep'
#: What the line of some cases must say (the rest: any one line).
EXPECT = {
    'render: 100,000 cubes': 'scene.cubes must be an int in 1..1000',
    'render: 10^8 colours': 'scene.colors',
    'render: 10^8 views': 'views must be at most 10000',
    'render: 10^5 px images': 'image_size must be at most 4096',
    'render: rooms min_objects a string': "scene.min_objects must be a number, got 'a'",
    'render: rooms max_objects a fraction': 'min_objects and max_objects must be ints',
    'render: dice max_objects a string': "scene.max_objects must be a number, got 'x'",
    'render: camera at 1e308': 'camera.max_distance must be a finite number',
    'render: camera at inf': 'camera.max_distance must be a finite number',
    'render: recipe nested 5,000 deep': NESTED,
    'render: override nested 5,000 deep': NESTED,
    'check: manifest nested 200,000 deep': NESTED,
    'check: scene specs nested 200,000 deep': NESTED,
    'check: shard is a link to a text file': 'not a .npy file',
    'check: unfinished import': 'is an unfinished import',
    'train: preset nested 5,000 deep': NESTED,
    'train: manifest nested 200,000 deep': NESTED,
    'train: resumed config nested 200,000 deep': NESTED,
    'eval: config nested 200,000 deep': NESTED,
    'eval: hyperparameters nested 200,000 deep': NESTED,
    'eval: manifest nested 200,000 deep': NESTED,
    'gif: config nested 200,000 deep': NESTED,
    'gif: manifest nested 200,000 deep': NESTED,
    'train: init from an unknown shipped model': "no pretrained model 'nope'",
    'train: init with resume': 'a resumed run continues from its snapshot',
    'view: context too big': '--context must be in 0..4',
    'view: port 0': '--port must be in 1..65535',
    'import-images: crop not four numbers': '--crop must be four integers',
    'import-images: out is the dataset': 'already exists and is not empty',
    'export-nerfstudio: scene out of range': 'scene 99 out of range',
}
CASES = {
    'render: unknown recipe': ['render', 'no_such_recipe', '--out', '{tmp}'],
    'render: unknown key': R + ['--out', '{tmp}', '--set', 'scene.wings=2'],
    'render: no workers': R + ['--out', '{tmp}', '--workers', '0'],
    'render: out is a file': R + ['--out', '{file}'],
    'render: out under a file': R + ['--out', '{file}/x'],
    'render: into another dataset': R + ['--out', '{data}', '--set', 'scene.cubes=4'],
    'render: huge count': R + ['--out', '{tmp}', '--train-scenes', '1000000000000'],
    'render: 100,000 cubes': R + ['--out', '{tmp}', '--set', 'scene.cubes=100000'],
    'render: 10^8 colours': R + ['--out', '{tmp}', '--set', 'scene.colors=100000000'],
    'render: 10^8 views': R + ['--out', '{tmp}', '--set', 'views=100000000'],
    'render: 10^5 px images': R + ['--out', '{tmp}', '--set', 'image_size=100000',
                                   '--set', 'scenes_per_shard=1'],
    'render: rooms min_objects a string': ROOMS + ['--set', 'scene.min_objects=a'],
    'render: rooms max_objects a fraction': ROOMS + ['--set', 'scene.max_objects=2.5'],
    'render: dice max_objects a string': DICE + ['--set', 'scene.max_objects=x'],
    'render: camera at 1e308': R + ['--out', '{tmp}', '--set', 'camera.max_distance=1e308'],
    'render: camera at inf': R + ['--out', '{tmp}', '--set', 'camera.max_distance=inf'],
    'render: recipe nested 5,000 deep': ['render', '{deep_recipe}', '--out', '{tmp}'],
    'render: override nested 5,000 deep': R + ['--out', '{tmp}', '--set',
                                               'scene.cubes=' + '[' * 5000 + ']' * 5000],
    'check: no dataset': ['check', '{tmp}/none'],
    'check: nan viewpoints': ['check', '{nan}'],
    'check: missing shards': ['check', '{partial}'],
    'check: manifest nested 200,000 deep': ['check', '{deep_manifest}'],
    'check: scene specs nested 200,000 deep': ['check', '{deep_specs}'],
    'check: shard is a link to a text file': ['check', '{link}'],
    'check: unfinished import': ['check', '{unfinished}'],
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
    'train: preset nested 5,000 deep': ['train', '{deep_preset}', '--dataset', '{data}',
                                        '--out', '{tmp}/r'],
    'train: manifest nested 200,000 deep': ['train', 'cpu_small', '--dataset', '{deep_manifest}',
                                            '--out', '{tmp}/r', '--iterations', '2', '--quiet'],
    'train: resumed config nested 200,000 deep': ['train', '--out', '{deep_config}', '--resume'],
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
    'eval: config nested 200,000 deep': ['eval', '{deep_config}', '--out', '{tmp}/e'],
    'eval: hyperparameters nested 200,000 deep': ['eval', '{deep_hyperparams}',
                                                  '--out', '{tmp}/e'],
    'eval: manifest nested 200,000 deep': ['eval', '{run}', '--dataset', '{deep_manifest}',
                                           '--out', '{tmp}/e'],
    'gif: no run': ['gif', '{tmp}/none'],
    'gif: config nested 200,000 deep': ['gif', '{deep_config}', '--out', '{tmp}/a.gif'],
    'gif: manifest nested 200,000 deep': ['gif', '{run}', '--dataset', '{deep_manifest}',
                                          '--frames', '2', '--out', '{tmp}/a.gif'],
    'gif: damaged snapshot': ['gif', '{damaged}'],
    'gif: out under a file': ['gif', '{run}', '--frames', '2', '--out', '{file}/a.gif'],
    'gif: nan viewpoints': ['gif', '{run}', '--dataset', '{nan}', '--frames', '2'],
    'import-deepmind: no source': ['import-deepmind', '{tmp}/none', '--out', '{tmp}/dm'],
    'train: init from nothing': ['train', 'cpu_small', '--dataset', '{data}', '--out', '{tmp}/r',
                                 '--init', '{tmp}/none'],
    'train: init from an unknown shipped model': ['train', 'cpu_small', '--dataset', '{data}',
                                                  '--out', '{tmp}/r', '--init',
                                                  'pretrained:nope'],
    'train: init with resume': ['train', '--out', '{run}', '--resume', '--init', '{run}'],
    'view: no run': ['view', '{tmp}/none'],
    'view: damaged snapshot': ['view', '{damaged}'],
    'view: nan viewpoints': ['view', '{run}', '--dataset', '{nan}'],
    'view: context too big': ['view', '{run}', '--context', '99'],
    'view: port 0': ['view', '{run}', '--port', '0'],
    'import-images: no source': ['import-images', '{tmp}/none', '--out', '{tmp}/ii'],
    'import-images: a file as source': ['import-images', '{file}', '--out', '{tmp}/ii'],
    'import-images: crop not four numbers': ['import-images', '{data}', '--out', '{tmp}/ii',
                                             '--crop', '1,2,3'],
    'import-images: out is the dataset': ['import-images', '{tmp}', '--out', '{data}'],
    'export-nerfstudio: no dataset': ['export-nerfstudio', '{tmp}/none', '--out', '{tmp}/ns'],
    'export-nerfstudio: scene out of range': ['export-nerfstudio', '{data}', '--out', '{tmp}/ns',
                                              '--scene', '99'],
    'export-nerfstudio: nan viewpoints': ['export-nerfstudio', '{nan}', '--out', '{tmp}/ns'],
}


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, case, capsys):
    before = {k: _digest(world[k]) for k in world if k not in ('tmp', 'file')}
    argv = [a.format(**world) for a in CASES[case]]
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert main(argv) == 2, case
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('gqn ') and 'Traceback' not in err, err
    assert EXPECT.get(case, '') in err, err
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], case
    assert {k: _digest(world[k]) for k in before} == before
    shutil.rmtree(world['tmp'], ignore_errors=True)
