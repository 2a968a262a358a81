"""User scene families (the examples/ snowman), user cameras, and the mesh-file `objects` family."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gqn.data import shards
from gqn.errors import GQNError
from renderer import render_dataset, render_viewpoints
from renderer.camera import viewpoint_from_pose
from renderer.families import get_family
from renderer.recipe import load_recipe, resolve
from renderer.scene_spec import object_ids

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _gqn(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'gqn.cli'] + list(args), cwd=str(cwd),
                          env=dict(os.environ, PYTHONPATH=PROJECT), capture_output=True, text=True)


def _check_rerender(root):
    """Re-render the stored scenes of train shard 0: the same images and instance masks."""
    m = shards.read_manifest(root)
    images = shards.open_shard(root, 'train', '0000')[0]
    masks = shards.open_masks(root, 'train', '0000', images)
    with open(os.path.join(root, 'train', 'scenes', '0000.json')) as f:
        specs = json.load(f)
    for spec, img, mask in zip(specs, images, masks):
        again, again_mask = render_viewpoints(m, spec, viewpoint_from_pose(spec['camera_poses']),
                                              masks=True)
        np.testing.assert_array_equal(again, img)
        np.testing.assert_array_equal(again_mask, mask)
    return m, images, specs


def test_example_family_renders_through_cli(tmp_path):
    recipe = os.path.join(PROJECT, 'examples', 'snowman.toml')
    args = ['render', recipe, '--out', 'ds', '--workers', '2', '--train-scenes', '4',
            '--test-scenes', '2', '--set', 'scenes_per_shard=2', '--set', 'views=4',
            '--set', 'image_size=32', '--no-progress']
    r = _gqn(*args, cwd=tmp_path)  # the module is found beside the recipe, also in workers
    assert r.returncode == 0, r.stderr
    assert _gqn('check', 'ds', cwd=tmp_path).returncode == 0
    m, images, specs = _check_rerender(str(tmp_path / 'ds'))
    assert m['family'] == 'snowman:Snowman' and specs[0]['family'] == 'snowman'
    assert [mesh['shape'] for mesh in specs[0]['meshes']] == ['quad', 'sphere', 'sphere', 'sphere',
                                                            'cylinder', 'cone']
    masks = shards.open_masks(str(tmp_path / 'ds'), 'train', '0000')
    for spec, img, mask in zip(specs, images, masks):  # the snowman is in every view
        floor_only = render_viewpoints(m, dict(spec, meshes=spec['meshes'][:1]),
                                       viewpoint_from_pose(spec['camera_poses']))
        coverage = np.any(floor_only != img, axis=-1).mean(axis=(1, 2))
        assert (coverage > 0.005).all() and (coverage < 0.5).all(), coverage
        # masks without a line of mask code: the floor (a quad) is background, each of the
        # five solids (no "object" key) an object of its own, numbered in mesh order; with
        # no antialiasing and no shadows the objects are exactly where the floor-only
        # render differs
        assert object_ids(spec) == [0, 1, 2, 3, 4, 5]
        assert set(np.unique(mask)) <= {0, 1, 2, 3, 4, 5} and {1, 2} <= set(np.unique(mask))
        np.testing.assert_array_equal(mask > 0, np.any(floor_only != img, axis=-1))
    assert 'nothing to do' in _gqn(*args, cwd=tmp_path).stdout  # resumable like any family


def test_user_family_errors(tmp_path):
    with pytest.raises(GQNError, match='cannot import no_such_module'):
        get_family('no_such_module:Thing')
    with pytest.raises(GQNError, match="has no 'Nope'"):
        get_family('renderer.rooms:Nope')
    with pytest.raises(GQNError, match='not a renderer.families.SceneFamily subclass'):
        get_family('renderer.rooms:pose')
    with pytest.raises(GQNError, match="unknown scene family 'kitchen'.*mnist_dice.*objects"):
        get_family('kitchen')


def test_a_user_family_spec_missing_a_key_is_one_error_line(tmp_path):
    (tmp_path / 'sloppy.py').write_text(
        'import numpy as np\n'
        'from renderer.families import SceneFamily\n'
        'class Sloppy(SceneFamily):\n'
        '    name = "sloppy"\n'
        '    def sample(self, rng):\n'
        '        box = {"shape": "box", "extents": [1, 1, 1], "pose": np.eye(4).tolist(),\n'
        '               "color": [1, 0, 0], "roughness": 1.0}\n'
        '        return {"background": [0, 0, 0], "ambient": 0.5, "meshes": [box],\n'
        '                "lights": []}\n')
    recipe = tmp_path / 'r.toml'
    recipe.write_text('family = "sloppy:Sloppy"\ntrain_scenes = 2\ntest_scenes = 0\n'
                      'views = 2\nimage_size = 8\n')
    r = _gqn('render', str(recipe), '--out', 'ds', '--workers', '1', '--no-progress', cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count('\n') == 1, r.stderr
    assert "scene family 'sloppy:Sloppy', mesh 0: missing 'metallic' (a number)" in r.stderr


def test_user_camera_function(tmp_path):
    (tmp_path / 'mycams.py').write_text(
        'import numpy as np\n'
        'from renderer.camera import look_at_origin\n'
        'def above(rng, views, spec):\n'
        '    x = rng.uniform(-1, 1, (views, 1))\n'
        '    return look_at_origin(np.concatenate([x, np.full_like(x, 8.0), np.ones_like(x)], 1))\n')
    recipe = tmp_path / 'r.toml'
    recipe.write_text('train_scenes = 2\ntest_scenes = 0\nviews = 3\nimage_size = 32\n'
                      '[camera]\ntype = "mycams:above"\n')
    r = _gqn('render', str(recipe), '--out', 'ds', '--workers', '1', '--no-progress', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    v = shards.open_shard(str(tmp_path / 'ds'), 'train', '0000')[1]
    np.testing.assert_allclose(v[..., 1], 8.0)
    recipe.write_text('[camera]\ntype = "mycams:above"\nradius = 3.0\n')
    r = _gqn('render', str(recipe), '--out', 'ds2', cwd=tmp_path)
    assert r.returncode == 2 and "unknown recipe key 'camera.radius'" in r.stderr


@pytest.fixture(scope='module')
def mesh_dir(tmp_path_factory):
    import trimesh
    folder = tmp_path_factory.mktemp('meshes')
    (folder / 'sub').mkdir()
    torus = trimesh.creation.torus(major_radius=3.0, minor_radius=1.0)  # far from unit size
    torus.apply_translation([10.0, 5.0, 0.0])
    torus.export(str(folder / 'sub' / 'ring.obj'))
    trimesh.creation.box(extents=[1.0, 2.0, 0.5]).export(str(folder / 'slab.glb'))
    trimesh.creation.icosphere(subdivisions=1).export(str(folder / 'ball.stl'))
    (folder / 'empty.obj').write_text('# nothing\n')
    (folder / 'junk.ply').write_bytes(b'ply\nformat nonsense\n\x00\x01')
    return folder


def _objects_recipe(folder, meshes, extra=''):
    path = folder / 'objs.toml'
    path.write_text('family = "objects"\ntrain_scenes = 4\ntest_scenes = 1\nscenes_per_shard = 2\n'
                    'views = 4\nimage_size = 32\n[scene]\nmeshes = %s\n%s' % (json.dumps(meshes), extra))
    return str(path)


def test_objects_family_normalises_and_renders(mesh_dir, tmp_path):
    recipe = _objects_recipe(mesh_dir, ['sub/ring.obj', 'slab.glb', 'ball.stl'],
                             'max_objects = 3\nwalls = true\n')
    name, r = load_recipe(recipe)
    assert r['scene']['meshes'] == [str(mesh_dir / 'sub' / 'ring.obj'), str(mesh_dir / 'slab.glb'),
                                    str(mesh_dir / 'ball.stl')]  # relative to the recipe file
    root = str(tmp_path / 'ds')
    render_dataset(name, r, root, workers=1, progress=False, log=lambda s: None)
    shards.check_dataset(root)
    m, images, specs = _check_rerender(root)
    from renderer.draw import load_mesh_file
    for spec in specs:
        assert len(spec['meshes']) >= 6  # floor + 4 walls + objects
        for mesh in spec['meshes'][5:]:
            pose = np.array(mesh['pose'])
            v = load_mesh_file(mesh['path'])[0] @ pose[:3, :3].T + pose[:3, 3]
            assert abs(v[:, 1].min()) < 1e-6  # standing on the floor
            radius = np.linalg.norm(v - (v.min(0) + v.max(0)) / 2, axis=1).max()
            assert 1.0 * 0.5 - 1e-6 <= radius <= 1.3 * 0.5 + 1e-6  # unit-size sphere x scale
    assert images.reshape(-1, 32 * 32 * 3).std(axis=1).min() > 5


def test_objects_floating_without_room_any_rotation(mesh_dir):
    recipe = _objects_recipe(mesh_dir, ['slab.glb'], 'floor = false\nplacement = "floating"\n'
                             'rotation = "any"\nnormalize = false\nmin_objects = 2\nmax_objects = 2\n'
                             'grid_spacing = 2.4\nroom_size = 8.0\nmin_scale = 1.0\nmax_scale = 1.0\n'
                             '[camera]\ntype = "sphere"\nmin_distance = 6.0\nmax_distance = 6.0\n')
    _, r = load_recipe(recipe)
    family = get_family('objects')(r['scene'])
    spec = family.sample(np.random.default_rng(0))
    assert len(spec['meshes']) == 2  # no floor: the room entry only holds the footprints
    assert len(spec['room']['footprints']) == 2
    for mesh in spec['meshes']:
        pose = np.array(mesh['pose'])
        assert 0.5 <= pose[1, 3] <= 1.5  # the box is centred at its origin
        np.testing.assert_allclose(np.linalg.det(pose[:3, :3]), 1.0)  # unscaled (normalize off)
        assert not np.allclose(pose[:3, :3], np.diag(np.diag(pose[:3, :3])))  # rotated


@pytest.mark.parametrize('mesh, message', [
    ('missing.obj', 'missing.obj: mesh file not found'),
    ('empty.obj', 'empty.obj: .*'),
    ('junk.ply', 'junk.ply: cannot load mesh'),
])
def test_bad_mesh_files_fail_before_rendering(mesh_dir, tmp_path, mesh, message):
    recipe = _objects_recipe(mesh_dir, ['slab.glb', mesh])
    r = _gqn('render', recipe, '--out', 'ds', '--workers', '1', cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr
    assert str(mesh_dir / mesh) in r.stderr
    import re
    assert re.search(message, r.stderr), r.stderr
    assert not (tmp_path / 'ds').exists()


def test_objects_parameter_errors(mesh_dir):
    base = {'family': 'objects', 'scene': {'meshes': [str(mesh_dir / 'slab.glb')]}}
    for scene, message in [({'meshes': []}, 'non-empty list'), ({'rotation': 'spin'}, 'rotation'),
                           ({'placement': 'wall'}, 'placement'), ({'max_scale': 4.0}, 'do not fit')]:
        with pytest.raises(GQNError, match=message):
            resolve(dict(base, scene=dict(base['scene'], **scene)))
