"""Rooms (ring and free camera) and MNIST dice: placement, cameras, rendering, re-rendering."""
import gzip
import json
import os

import numpy as np
import pytest

from gqn.data import shards
from gqn.errors import GQNError
from renderer import digits, render_dataset, render_viewpoints
from renderer.camera import FreeCamera, viewpoint_from_pose
from renderer.mnist_dice import FACES, MnistDice
from renderer.recipe import load_recipe
from renderer.rooms import Rooms

TINY = ['train_scenes=4', 'test_scenes=2', 'scenes_per_shard=2', 'views=5', 'image_size=32']
ROOM_MESHES = 5  # floor and four walls come first in every room spec


def _render(tmp_path_factory, recipe, extra=()):
    name, r = load_recipe(recipe, TINY + list(extra))
    root = str(tmp_path_factory.mktemp(name) / 'ds')
    render_dataset(name, r, root, workers=1, progress=False, log=lambda s: None)
    return root


@pytest.fixture(scope='module', params=['rooms_ring_camera', 'rooms_free_camera',
                                        'mnist_dice_ring_camera'])
def dataset(request, tmp_path_factory):
    return _render(tmp_path_factory, request.param)


def _specs(root, split='train', shard='0000'):
    with open(os.path.join(root, split, 'scenes', shard + '.json')) as f:
        return json.load(f)


def test_renders_checks_and_images_vary(dataset):
    summary = shards.check_dataset(dataset)
    assert summary['splits']['train'] == {'shards': 2, 'scenes': 4}
    images = np.concatenate([shards.open_shard(dataset, 'train', s)[0] for s in ('0000', '0001')])
    assert images.shape == (4, 5, 32, 32, 3)
    per_image_std = images.reshape(20, -1, 3).std(axis=1).mean(axis=1)
    assert (per_image_std > 5).all()  # no blank or constant image
    for scene in images:  # views of a scene differ
        diffs = [np.abs(scene[i].astype(int) - scene[0]).mean() for i in range(1, 5)]
        assert min(diffs) > 0 and max(diffs) > 2, diffs
    assert np.abs(images[0].astype(int) - images[1]).mean() > 5  # scenes differ


def test_rerender_from_stored_poses_and_objects_visible(dataset):
    m = shards.read_manifest(dataset)
    images = shards.open_shard(dataset, 'train', '0001')[0]
    masks = shards.open_masks(dataset, 'train', '0001', images)
    coverage = []
    for spec, img, mask in zip(_specs(dataset, shard='0001'), images, masks):
        v = viewpoint_from_pose(spec['camera_poses'])
        again, again_mask = render_viewpoints(m, spec, v, masks=True)
        np.testing.assert_array_equal(again, img)
        np.testing.assert_array_equal(again_mask, mask)  # the stored spec and masks agree
        assert set(np.unique(mask)) <= set(range(len(spec['meshes']) - ROOM_MESHES + 1))
        empty = render_viewpoints(m, dict(spec, meshes=spec['meshes'][:ROOM_MESHES]), v)
        coverage.append(np.any(empty != img, axis=-1).mean(axis=(1, 2)))
    coverage = np.concatenate(coverage)
    assert coverage.max() < 0.9  # the room stays visible
    if m['recipe']['camera']['type'] == 'ring':  # ring cameras look at the objects
        assert np.median(coverage) > 0.005 and coverage.mean() > 0.01
    else:  # free cameras look anywhere; some views still see objects
        assert (coverage > 0.002).any()


def test_ring_camera_height_and_radius(dataset):
    m = shards.read_manifest(dataset)
    cam = m['recipe']['camera']
    v = np.concatenate([shards.open_shard(dataset, s, '0000')[1] for s in ('train', 'test')])
    v = v.reshape(-1, 7).astype(np.float64)
    if cam['type'] == 'ring':
        np.testing.assert_allclose(v[:, 1], cam['height'], atol=1e-6)
        np.testing.assert_allclose(np.hypot(v[:, 0], v[:, 2]), cam['radius'], atol=1e-5)
        # looking at the centre axis: the camera's +z is its horizontal position direction
        np.testing.assert_allclose(np.arctan2(v[:, 4], v[:, 3]), np.arctan2(v[:, 0], v[:, 2]),
                                   atol=1e-5)
        np.testing.assert_allclose(np.arctan2(v[:, 6], v[:, 5]), np.radians(cam['pitch_deg']),
                                   atol=1e-6)
    else:
        half = m['recipe']['scene']['room_size'] / 2
        assert (np.abs(v[:, [0, 2]]) < half).all()
        assert ((v[:, 1] > 0) & (v[:, 1] < m['recipe']['scene']['wall_height'])).all()


def test_free_camera_inside_room_and_out_of_objects():
    family = Rooms({'max_objects': 9, 'min_objects': 9})
    cam = FreeCamera({'clearance': 0.2})
    rng = np.random.default_rng(0)
    for _ in range(50):
        spec = family.sample(rng)
        v = cam.sample(rng, 20, spec).astype(np.float64)
        assert (np.abs(v[:, [0, 2]]) <= 3.5 - 0.3 + 1e-6).all()
        assert ((v[:, 1] >= 0.5) & (v[:, 1] <= 1.5)).all()
        pitch = np.degrees(np.arctan2(v[:, 6], v[:, 5]))
        assert ((pitch >= -10 - 1e-4) & (pitch <= 30 + 1e-4)).all()
        for x, z, r in spec['room']['footprints']:
            assert (np.hypot(v[:, 0] - x, v[:, 2] - z) >= r + 0.2 - 1e-5).all()
    with pytest.raises(GQNError, match='needs a scene with a room'):
        cam.sample(rng, 3, {'meshes': []})


@pytest.mark.parametrize('params', [{}, {'exact_grid': True, 'max_objects': 9},
                                    {'min_objects': 9, 'max_objects': 9, 'max_size': 0.98}])
def test_objects_never_intersect_each_other_or_walls(params):
    family = Rooms(params)
    rng = np.random.default_rng(1)
    counts, shapes = set(), set()
    for _ in range(300):
        spec = family.sample(rng)
        fp = np.array(spec['room']['footprints'])
        counts.add(len(fp))
        shapes |= {m['shape'] for m in spec['meshes'][ROOM_MESHES:]}
        assert (np.abs(fp[:, :2]) + fp[:, 2:] <= 3.5).all()
        d = np.hypot(*(fp[:, None, :2] - fp[None, :, :2]).transpose(2, 0, 1))
        gap = d - fp[:, None, 2] - fp[None, :, 2]
        assert (gap[~np.eye(len(fp), dtype=bool)] >= -1e-9).all()
        for m in spec['meshes'][ROOM_MESHES:]:  # standing on the floor
            assert np.isclose(m['pose'][1][3], m['extents'][1] / 2)
        if params.get('exact_grid'):
            assert np.allclose(np.round(fp[:, :2] / 1.4), fp[:, :2] / 1.4)
    assert shapes == {'box', 'sphere', 'cylinder', 'capsule', 'cone', 'icosahedron'}
    lo, hi = family.params['min_objects'], family.params['max_objects']
    assert counts == set(range(lo, hi + 1))
    assert json.loads(json.dumps(spec)) == spec


@pytest.mark.parametrize('params, message', [
    ({'max_size': 1.2}, 'do not fit grid'), ({'max_objects': 10}, 'max_objects <= 9'),
    ({'shapes': ['torus']}, 'scene.shapes'), ({'wall_textures': ['digits']}, 'wall_textures'),
    ({'grid_spacing': 3.0}, 'does not fit in room_size'), ({'background': [2, 0, 0]}, 'background')])
def test_bad_room_parameters(params, message):
    with pytest.raises(GQNError, match=message):
        Rooms(params)


# --- digit sources -------------------------------------------------------------------------

def _idx(array, code=0x08):
    return (bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype='>u4').tobytes()
            + array.astype(np.uint8).tobytes())


def _fake_mnist(n=30, size=28, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = np.zeros((n, size, size), dtype=np.uint8)
    for i, d in enumerate(labels):  # a bar whose position encodes the label
        images[i, 2 + 2 * d:4 + 2 * d, 4:24] = 200 + rng.integers(55)
    return images, labels


@pytest.mark.parametrize('gz', [False, True])
def test_idx_reader_accepts_real_format(tmp_path, gz):
    images, labels = _fake_mnist()
    suffix = '.gz' if gz else ''
    write = gzip.open if gz else open
    with write(tmp_path / ('train-images-idx3-ubyte' + suffix), 'wb') as f:
        f.write(_idx(images))
    with write(tmp_path / ('train-labels-idx1-ubyte' + suffix), 'wb') as f:
        f.write(_idx(labels))
    source = digits.resolve_source(str(tmp_path))  # a folder works too
    assert source == {'kind': 'idx', 'path': str(tmp_path / ('train-images-idx3-ubyte' + suffix))}
    x, y = digits.load_digits(source)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize('keys', [('x', 'y'), ('x_train', 'y_train'), ('images', 'labels')])
def test_npz_reader_accepts_usual_keys(tmp_path, keys):
    images, labels = _fake_mnist(seed=1)
    path = str(tmp_path / 'mnist.npz')
    flat = images.reshape(len(images), -1) if keys[0] == 'x' else images / 255.0
    np.savez(path, **{keys[0]: flat, keys[1]: labels})
    x, y = digits.read_npz(path)
    assert x.dtype == np.uint8 and x.shape == images.shape
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_malformed_digit_files_fail_clearly(tmp_path):
    images, labels = _fake_mnist()
    cases = {
        'bad-images-idx3-ubyte': (b'\x08\x03\x00\x00' + _idx(images)[4:], 'bad magic'),
        'trunc-images-idx3-ubyte': (_idx(images)[:-5], 'file has'),
        'float-images-idx3-ubyte': (_idx(images, code=0x0D), 'unsigned bytes'),
        'short-images-idx3-ubyte': (b'\x00\x00\x08\x03\x00', 'truncated IDX header'),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(GQNError, match=message) as e:
            digits.read_idx(str(tmp_path / name))
        assert name in str(e.value)
    (tmp_path / 'few-images-idx3-ubyte').write_bytes(_idx(images))
    (tmp_path / 'few-labels-idx1-ubyte').write_bytes(_idx(labels[:10]))
    with pytest.raises(GQNError, match='30 images but labels of shape'):
        digits.load_digits({'kind': 'idx', 'path': str(tmp_path / 'few-images-idx3-ubyte')})
    np.savez(tmp_path / 'wrong.npz', a=images, b=labels)
    with pytest.raises(GQNError, match='no image/label arrays.*a, b'):
        digits.read_npz(str(tmp_path / 'wrong.npz'))
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(GQNError, match='junk.npz: cannot read npz'):
        digits.read_npz(str(tmp_path / 'junk.npz'))
    with pytest.raises(GQNError, match='MNIST file not found'):
        digits.resolve_source(str(tmp_path / 'nope.npz'))


def test_offline_default_and_chainer_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('CHAINER_DATASET_ROOT', str(tmp_path))
    assert digits.resolve_source('') == {'kind': 'sklearn'}
    x, y = digits.load_digits({'kind': 'sklearn'})
    assert x.dtype == np.uint8 and x.shape[1:] == (8, 8) and set(y) == set(range(10))
    cache = tmp_path / 'pfnet' / 'chainer' / 'mnist'
    cache.mkdir(parents=True)
    images, labels = _fake_mnist(seed=2)
    np.savez(cache / 'train.npz', x=images.reshape(30, -1), y=labels)
    assert digits.resolve_source('') == {'kind': 'npz', 'path': str(cache / 'train.npz')}


def test_cli_mnist_option_renders_and_records_source(tmp_path):
    import subprocess
    import sys
    images, labels = _fake_mnist(n=60)
    folder = tmp_path / 'mnist'
    folder.mkdir()
    with gzip.open(folder / 'train-images-idx3-ubyte.gz', 'wb') as f:
        f.write(_idx(images))
    with gzip.open(folder / 'train-labels-idx1-ubyte.gz', 'wb') as f:
        f.write(_idx(labels))
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=project)

    def gqn(*args):
        return subprocess.run([sys.executable, '-m', 'gqn.cli'] + list(args), cwd=str(tmp_path),
                              env=env, capture_output=True, text=True)

    r = gqn('render', 'mnist_dice_ring_camera', '--mnist', 'mnist', '--out', 'ds', '--workers', '1',
            '--train-scenes', '2', '--test-scenes', '0', '--set', 'views=3', '--set',
            'image_size=32', '--no-progress')
    assert r.returncode == 0, r.stderr
    m = shards.read_manifest(str(tmp_path / 'ds'))
    assert m['family_info']['digit_source'] == {
        'kind': 'idx', 'path': str(folder / 'train-images-idx3-ubyte.gz'), 'images': 60,
        'image_size': 28}
    die = _specs(str(tmp_path / 'ds'))[0]['meshes'][ROOM_MESHES]
    assert [int(labels[i]) for i in die['texture']['indices']] == [die['faces'][f] for f in FACES]
    assert gqn('check', 'ds').returncode == 0
    r = gqn('render', 'mnist_dice_ring_camera', '--mnist', 'nowhere.npz', '--out', 'ds2')
    assert r.returncode == 2 and 'nowhere.npz: MNIST file not found' in r.stderr
    assert not (tmp_path / 'ds2').exists()


def test_dice_spec_records_source_indices_and_faces(tmp_path):
    images, labels = _fake_mnist(n=60)
    (tmp_path / 'train-images-idx3-ubyte').write_bytes(_idx(images))
    (tmp_path / 'train-labels-idx1-ubyte').write_bytes(_idx(labels))
    family = MnistDice({'mnist': str(tmp_path), 'max_objects': 2})
    assert family.manifest_info()['digit_source']['path'].endswith('train-images-idx3-ubyte')
    rng = np.random.default_rng(0)
    for _ in range(20):
        spec = family.sample(rng)
        for die in spec['meshes'][ROOM_MESHES:]:
            tex = die['texture']
            assert tex['kind'] == 'digits' and tex['source'] == family.source
            faces = list(die['faces'].values())
            assert len(set(faces)) == 6 and list(die['faces']) == ['+x', '-x', '+y', '-y', '+z', '-z']
            assert [int(labels[i]) for i in tex['indices']] == faces
    with pytest.raises(GQNError, match='MNIST file not found'):
        MnistDice({'mnist': str(tmp_path / 'missing.npz')})
