"""Rendering datasets: determinism, re-rendering, resume after a kill, the CLI."""
import filecmp
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gqn.data import shards
from gqn.errors import GQNError
from renderer import render_dataset, render_viewpoints
from renderer.recipe import resolve

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = {'train_scenes': 7, 'test_scenes': 3, 'scenes_per_shard': 3, 'views': 4, 'image_size': 32}


def _files(root):
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, f), root) for f in files]
    return sorted(out)


def _same_tree(a, b):
    files = _files(a)
    assert files == _files(b)
    for f in files:
        assert filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), f


def _gqn(*args, env=None, **kwargs):
    env = dict(os.environ, PYTHONPATH=PROJECT, **(env or {}))
    return subprocess.run([sys.executable, '-m', 'gqn.cli'] + list(args), cwd=kwargs.pop('cwd', PROJECT),
                          env=env, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('tiny') / 'ds')
    render_dataset('tiny', resolve(TINY), root, workers=1, progress=False, log=lambda s: None)
    return root


def test_layout_manifest_and_check(tiny):
    m = shards.read_manifest(tiny)
    assert m['splits'] == {'train': {'scenes': 7, 'shards': 3}, 'test': {'scenes': 3, 'shards': 1}}
    assert m['intrinsics']['width'] == 32 and m['views'] == 4 and m['family'] == 'shepard_matzler'
    assert m['recipe']['scene']['cubes'] == 7 and 'up' in m['axis_convention']
    images, viewpoints = shards.open_shard(tiny, 'train', '0002')
    assert images.shape == (1, 4, 32, 32, 3) and images.dtype == np.uint8  # short last shard
    assert viewpoints.shape == (1, 4, 7) and viewpoints.dtype == np.float32
    assert m['recipe']['masks'] is True  # the default: instance masks beside the images
    masks = shards.open_masks(tiny, 'train', '0002', images)
    assert masks.shape == (1, 4, 32, 32) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}  # a Shepard-Matzler object is one object
    summary = shards.check_dataset(tiny)
    assert summary['splits']['train'] == {'shards': 3, 'scenes': 7}
    # train and test scenes come from disjoint seed streams
    train = json.load(open(os.path.join(tiny, 'train', 'scenes', '0000.json')))
    test = json.load(open(os.path.join(tiny, 'test', 'scenes', '0000.json')))
    assert all(a['meshes'] != b['meshes'] for a, b in zip(train, test))


def test_rerender_reproduces_shards_byte_for_byte(tiny):
    m = shards.read_manifest(tiny)
    specs = json.load(open(os.path.join(tiny, 'train', 'scenes', '0001.json')))
    images, viewpoints = shards.open_shard(tiny, 'train', '0001')
    masks = shards.open_masks(tiny, 'train', '0001', images)
    for spec, img, mask, v in zip(specs, images, masks, viewpoints):
        np.testing.assert_array_equal(render_viewpoints(m, spec, v), img)
        # the stored spec and the stored masks agree
        again, again_mask = render_viewpoints(m, spec, v, masks=True)
        np.testing.assert_array_equal(again, img)
        np.testing.assert_array_equal(again_mask, mask)
        # the stored poses are the poses of the stored viewpoints
        from renderer.camera import viewpoint_from_pose
        np.testing.assert_allclose(viewpoint_from_pose(spec['camera_poses']), v, atol=1e-6)
    # new viewpoints render too, in any number
    new = render_viewpoints(m, specs[0], np.concatenate([viewpoints[1], viewpoints[0, :1]]))
    assert new.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(new[4], images[0, 0])


def test_same_bytes_with_two_workers_and_rerun_is_noop(tiny, tmp_path):
    root = str(tmp_path / 'ds')
    render_dataset('tiny', resolve(TINY), root, workers=2, progress=False, log=lambda s: None)
    assert {'train/masks/0000.npy', 'test/masks/0000.npy'} <= set(_files(tiny))
    _same_tree(tiny, root)  # images, viewpoints, specs and masks
    messages = []
    result = render_dataset('tiny', resolve(TINY), root, workers=2, progress=False,
                            log=messages.append)
    assert result['scenes'] == 0 and 'nothing to do' in messages[0]
    with pytest.raises(GQNError, match='different recipe.*seed'):
        render_dataset('tiny', resolve(dict(TINY, seed=1)), root, progress=False)


def test_resume_after_partial_run(tiny, tmp_path):
    root = str(tmp_path / 'ds')
    render_dataset('tiny', resolve(TINY), root, workers=1, progress=False, log=lambda s: None)
    os.remove(os.path.join(root, 'train', 'images', '0001.npy'))  # as if killed mid-shard
    with open(os.path.join(root, 'train', 'images', '0001.npy.tmp99'), 'wb') as f:
        f.write(b'half')
    os.remove(shards.mask_path(root, 'test', 0))  # a shard without its masks is missing too
    from renderer.dataset import make_manifest, pending_shards
    assert pending_shards(make_manifest('tiny', resolve(TINY)), root) == [('train', 1),
                                                                          ('test', 0)]
    result = render_dataset('tiny', resolve(TINY), root, workers=1, progress=False,
                            log=lambda s: None)
    assert result['shards'] == 2
    _same_tree(tiny, root)


def test_masks_false_writes_no_masks(tiny, tmp_path):
    root = str(tmp_path / 'ds')
    render_dataset('tiny', resolve(dict(TINY, masks=False)), root, workers=1, progress=False,
                   log=lambda s: None)
    assert not any('masks' in f for f in _files(root))
    assert shards.read_manifest(root)['recipe']['masks'] is False
    shards.check_dataset(root)
    for f in _files(tiny):  # the same images and specs as with masks
        if '/masks/' not in f and f != shards.MANIFEST:
            assert filecmp.cmp(os.path.join(tiny, f), os.path.join(root, f), shallow=False), f
    with pytest.raises(GQNError, match='masks must be bool'):
        resolve(dict(TINY, masks=1))


def test_a_dataset_rendered_before_masks_loads_checks_and_resumes(tmp_path):
    # its manifest's recipe has no "masks" key and its shards no masks/
    root = str(tmp_path / 'old')
    render_dataset('tiny', resolve(dict(TINY, masks=False)), root, workers=1, progress=False,
                   log=lambda s: None)
    manifest = shards.read_manifest(root)
    del manifest['recipe']['masks']
    from gqn import files
    files.atomic_write_json(os.path.join(root, shards.MANIFEST), manifest)
    assert not shards.manifest_masks(manifest)
    assert shards.check_dataset(root)['splits']['train'] == {'shards': 3, 'scenes': 7}
    r = _gqn('check', root)
    assert r.returncode == 0 and 'OK' in r.stdout
    from gqn.data.shard_dataset import ShardDataset
    ds = ShardDataset(root, 'train')
    assert len(ds) == 7 and ds[0][0].shape == (4, 3, 32, 32) and not ds.has_masks
    from renderer.dataset import pending_shards
    assert pending_shards(manifest, root) == []
    # today's recipe has masks on: refused, with the way to resume it
    with pytest.raises(GQNError, match=r'differs in: masks\) \(it was rendered without masks: '
                                       r'--set masks=false resumes it\)'):
        render_dataset('tiny', resolve(TINY), root, progress=False)
    result = render_dataset('tiny', resolve(dict(TINY, masks=False)), root, progress=False,
                            log=lambda s: None)
    assert result['shards'] == 0 and shards.read_manifest(root)['recipe']['masks'] is False


def test_check_rejects_bad_or_missing_masks_and_preview_overlays_them(tiny, tmp_path):
    import shutil
    root = str(tmp_path / 'ds')
    shutil.copytree(tiny, root)
    r = _gqn('preview', root, '--masks', '--scenes', '2', '--scale', '1')
    assert r.returncode == 0, r.stderr
    from PIL import Image
    path = os.path.join(root, 'preview-masks.png')
    assert r.stdout.strip() == path and Image.open(path).size == (4 * 34 + 2, 2 * 34 + 2)
    plain = np.asarray(Image.open(_gqn('preview', root, '--scenes', '2', '--scale', '1')
                                  .stdout.strip()))
    tinted = np.asarray(Image.open(path))
    masks = shards.open_masks(root, 'train', '0000')[:2]
    tiles = np.zeros(tinted.shape[:2], bool)  # the object pixels of the grid
    for i in range(2):
        for j in range(4):
            tiles[2 + 34 * i:34 * (i + 1), 2 + 34 * j:34 * (j + 1)] = masks[i, j] > 0
    assert (tinted != plain).any(-1)[tiles].mean() > 0.9  # objects tinted
    np.testing.assert_array_equal(tinted[~tiles], plain[~tiles])  # background untouched

    bad = shards.mask_path(root, 'train', 1)
    np.save(bad, np.zeros((3, 4, 32, 32), np.int32))  # wrong dtype
    r = _gqn('check', root)
    assert r.returncode == 2 and 'train/masks/0001.npy: expected uint8' in r.stderr
    np.save(bad, np.zeros((3, 4, 32, 31), np.uint8))  # wrong shape
    r = _gqn('check', root)
    assert r.returncode == 2 and 'train/masks/0001.npy: expected uint8' in r.stderr
    np.save(bad, np.full((3, 4, 32, 32), 2, np.uint8))  # an id the scene spec does not have
    r = _gqn('check', root)
    assert r.returncode == 2 and 'train/masks/0001.npy: scene 0 has object id 2' in r.stderr
    os.remove(bad)
    r = _gqn('check', root)
    assert r.returncode == 2 and r.stderr.count('\n') == 1
    assert 'train/masks/0001.npy: missing (the recipe in manifest.json has masks = true)' \
        in r.stderr

    no_masks = str(tmp_path / 'plain')
    render_dataset('tiny', resolve(dict(TINY, masks=False, train_scenes=2, test_scenes=0)),
                   no_masks, workers=1, progress=False, log=lambda s: None)
    r = _gqn('preview', no_masks, '--masks')
    assert r.returncode == 2 and r.stderr.count('\n') == 1
    assert 'train/masks/0000.npy: no instance masks' in r.stderr


@pytest.mark.slow
def test_kill_and_resume_gives_identical_bytes(tmp_path):
    recipe = tmp_path / 'killme.toml'
    recipe.write_text('train_scenes = 40\ntest_scenes = 4\nscenes_per_shard = 2\nviews = 3\n'
                      'image_size = 32\n[scene]\ncubes = [2, 7]\n')
    killed, clean = str(tmp_path / 'killed'), str(tmp_path / 'clean')
    env = dict(os.environ, PYTHONPATH=PROJECT)
    proc = subprocess.Popen([sys.executable, '-m', 'gqn.cli', 'render', str(recipe), '--out', killed,
                             '--workers', '2', '--no-progress'], cwd=PROJECT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    images = os.path.join(killed, 'train', 'images')
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.isdir(images) and len(os.listdir(images)) >= 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [f for f in os.listdir(images) if f.endswith('.npy')]
    assert 0 < len(done) < 20, 'kill the run while it is rendering'
    for f in done:  # a shard under its final name is complete
        assert shards.shard_exists(killed, 'train', int(f[:4]), with_scenes=True)
        shards.open_shard(killed, 'train', f[:4])
    r = _gqn('render', str(recipe), '--out', killed, '--workers', '2', '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'resuming' in r.stdout
    r = _gqn('render', str(recipe), '--out', clean, '--workers', '1', '--no-progress')
    assert r.returncode == 0, r.stderr
    _same_tree(clean, killed)
    assert _gqn('check', killed).returncode == 0


def test_cli_render_check_preview(tmp_path):
    r = _gqn('render', 'shepard_matzler_small', '--train-scenes', '3', '--test-scenes', '2',
             '--set', 'views=3', '--set', 'scene.cubes=4', '--workers', '1', cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    root = tmp_path / 'datasets' / 'shepard_matzler_small'  # default root under the cwd
    assert shards.read_manifest(str(root))['recipe']['scene']['cubes'] == 4
    r = _gqn('check', str(root))
    assert r.returncode == 0 and 'OK' in r.stdout
    r = _gqn('preview', str(root), '--scenes', '2', '--scale', '1', '--out', str(tmp_path / 'p.png'))
    assert r.returncode == 0, r.stderr
    from PIL import Image
    assert Image.open(tmp_path / 'p.png').size == (3 * 66 + 2, 2 * 66 + 2)
    r = _gqn('render', 'shepard_matzler_small', '--train-scenes', '3', '--test-scenes', '2',
             '--set', 'views=3', '--set', 'scene.cubes=4', '--workers', '1', cwd=str(tmp_path))
    assert r.returncode == 0 and 'nothing to do' in r.stdout
    # a corrupted file makes check fail naming it
    with open(root / 'test' / 'images' / '0000.npy', 'r+b') as f:
        f.truncate(100)
    r = _gqn('check', str(root))
    assert r.returncode == 2 and 'test/images/0000.npy' in r.stderr


@pytest.mark.parametrize('args, message', [
    (['--set', 'scene.colour=3'], "unknown recipe key 'scene.colour'"),
    (['--set', 'image_size=0'], 'image_size must be positive'),
    (['--set', 'views=1'], 'views must be at least 2'),
    (['--train-scenes', '-1'], 'train_scenes must be >= 0'),
])
def test_cli_bad_input_one_line(tmp_path, args, message):
    r = _gqn('render', 'shepard_matzler_small', '--out', str(tmp_path / 'x'), *args)
    assert r.returncode == 2
    assert r.stderr.count('\n') == 1 and message in r.stderr and 'Traceback' not in r.stderr


def test_cli_different_recipe_and_no_opengl(tiny, tmp_path):
    r = _gqn('render', 'shepard_matzler_small', '--out', tiny)
    assert r.returncode == 2 and 'different recipe' in r.stderr and r.stderr.count('\n') == 1
    # no EGL vendor library: the error says which packages to install
    r = _gqn('render', 'shepard_matzler_small', '--out', str(tmp_path / 'x'), '--workers', '1',
             '--train-scenes', '1', '--test-scenes', '0', '--no-progress',
             env={'__EGL_VENDOR_LIBRARY_FILENAMES': '/nonexistent.json'})
    assert r.returncode == 2 and r.stderr.count('\n') == 1
    assert 'no usable OpenGL platform' in r.stderr and 'libegl1 libgl1 libgl1-mesa-dri' in r.stderr


def test_imports_stay_light():
    code = ('import sys, gqn, renderer, renderer.camera, renderer.recipe, gqn.cli.render\n'
            'from gqn.cli import build_parser\n'
            'build_parser()\n'
            'bad = sorted(m for m in sys.modules if m.split(".")[0] in ("datasets", "train", "OpenGL",'
            ' "pyrender"))\n'
            'print(bad)\n')
    r = subprocess.run([sys.executable, '-c', code], cwd=PROJECT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=PROJECT))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'
    r = _gqn('--help')
    assert r.returncode == 0 and 'render' in r.stdout


def test_a_render_that_cannot_fit_is_refused_before_it_starts(tmp_path, capsys):
    import time

    from gqn.cli import main
    out = str(tmp_path / 'huge')
    start = time.perf_counter()
    assert main(['render', 'shepard_matzler_demo', '--out', out, '--train-scenes',
                 '1000000000000', '--test-scenes', '5', '--set', 'views=5',
                 '--no-progress']) == 2
    assert 'of disk' in capsys.readouterr().err
    assert main(['render', 'shepard_matzler_demo', '--out', out, '--train-scenes', '1000',
                 '--test-scenes', '1', '--set', 'image_size=4096', '--set',
                 'scenes_per_shard=1000', '--no-progress']) == 2
    assert 'of memory' in capsys.readouterr().err
    assert time.perf_counter() - start < 30 and not os.path.exists(out)


def test_a_second_render_into_the_same_folder_says_who_holds_it(tmp_path, capsys):
    from gqn.cli import main
    from renderer.dataset import render_lock
    out = str(tmp_path / 'ds')
    argv = ['render', 'shepard_matzler_demo', '--out', out, '--train-scenes', '2',
            '--test-scenes', '1', '--set', 'views=2', '--set', 'image_size=8', '--workers', '1',
            '--no-progress']
    with render_lock(out):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert 'is being rendered by process %d' % os.getpid() in err
    assert main(argv) == 0  # once it is released, the render goes ahead
    assert 'render.lock' not in os.listdir(out)


@pytest.mark.slow
def test_a_full_disk_line_gives_the_space_needed(tmp_path, capsys):
    """On a 64 kB tmpfs the estimate passes (8 px images) but the 4 kB blocks of the files fill
    it: the line names the file, its size, and what the shards left need."""
    import re

    from gqn.cli import main
    disk = str(tmp_path / 'disk')
    os.makedirs(disk)
    mount = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk],
                           capture_output=True)
    if mount.returncode:
        pytest.skip('cannot mount a small tmpfs here (needs root): %s' % mount.stderr.strip())
    try:
        capsys.readouterr()
        assert main(['render', 'shepard_matzler_demo', '--out', os.path.join(disk, 'ds'),
                     '--train-scenes', '40', '--test-scenes', '0', '--set', 'views=2',
                     '--set', 'image_size=8', '--set', 'scenes_per_shard=1', '--workers', '1',
                     '--no-progress']) == 2
    finally:
        subprocess.run(['umount', disk], check=True)
    err = capsys.readouterr().err
    assert err.count('\n') == 1, err
    assert re.search(r'^gqn render: error: cannot write \S+/ds/train/\S+: No space left on device '
                     r'\(\d+(\.\d)? k?B needed\); the \d+ shards not written yet need about '
                     r'\d+\.\d kB more$', err.strip()), err
