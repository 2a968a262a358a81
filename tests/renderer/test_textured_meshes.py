"""Mesh files drawn as they look: textures (OBJ+MTL+PNG, GLB), vertex colours, the ``up``
key and the ``objects`` family's framing. The assets are made by the test, with trimesh
(:func:`renderer.testing.write_mesh_assets`)."""
import numpy as np
import pytest

from renderer import render_dataset, scene_spec
from renderer.camera import look_at_origin
from renderer.dataset import make_manifest, open_view_renderer
from renderer.families import get_family
from renderer.recipe import resolve
from renderer.testing import BALL_COLOUR, TEXTURE_COLOURS, write_mesh_assets

RED, BLUE = TEXTURE_COLOURS


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp('assets')
    write_mesh_assets(str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [
        'ball.ply', 'bottle_z_up.stl', 'crate.glb', 'crate.obj', 'material.mtl',
        'material_0.png', 'plain.stl']
    return folder


def _render(path, appearance, color=(1.0, 1.0, 1.0)):
    """One 32-px view of the mesh file at the origin under ambient light only, and its
    object pixels (uint8 (n, 3))."""
    look = {'appearance': 'file'} if appearance else {}
    spec = scene_spec.scene('test', [0.0, 0.0, 0.0], 1.0,
                            [scene_spec.mesh('file', np.eye(4), color, path=str(path), **look)],
                            [])
    manifest = make_manifest('t', resolve({'image_size': 32, 'views': 2}))
    vr = open_view_renderer(manifest)
    try:
        image, mask = vr.render(spec, look_at_origin(np.array([[1.2, 1.0, 2.0]])), masks=True)
    finally:
        vr.close()
    return image[0][mask[0] > 0]


@pytest.mark.parametrize('name', ['crate.obj', 'crate.glb'])
def test_textured_files_render_their_texture(assets, name):
    pixels = _render(assets / name, appearance=True).astype(int)
    assert len(pixels) > 100
    red = (pixels[:, 0] > 150) & (pixels[:, 2] < 60) & (pixels[:, 1] < 60)
    blue = (pixels[:, 2] > 150) & (pixels[:, 0] < 60) & (pixels[:, 1] < 60)
    # both halves of the texture show, and most pixels are one of them, the rest their
    # blend where the texture is sampled across its red/blue edge (the texture is drawn as
    # it is, not darkened by the 0.4 colour factor trimesh writes beside it)
    assert red.mean() > 0.2 and blue.mean() > 0.2 and (red | blue).mean() > 0.75
    assert (pixels[:, 1] < 60).all()  # no green: no grey palette or default colour
    palette = _render(assets / name, appearance=False, color=(0.5, 0.5, 0.5)).astype(int)
    assert (np.abs(palette - srgb([0.5] * 3)) <= 2).all()  # the palette colour as before


def test_vertex_colours_and_files_without_colours(assets):
    ball = _render(assets / 'ball.ply', appearance=True).astype(int)
    np.testing.assert_allclose(ball.mean(axis=0), stored(BALL_COLOUR), atol=2)
    plain = _render(assets / 'plain.stl', appearance=True, color=(0.2, 0.6, 0.8)).astype(int)
    np.testing.assert_allclose(plain.mean(axis=0), srgb([0.2, 0.6, 0.8]), atol=2)  # the palette's


def srgb(linear):
    """What pyrender shows for linear colours under full ambient light (0..255): its
    shader writes ``colour ** (1 / 2.2)``."""
    return 255 * np.asarray(linear, dtype=np.float64) ** (1 / 2.2)


def stored(rgb):
    """What pyrender shows for a stored (sRGB) colour, a texel's or, read alike, a file's
    vertex colour: decoded exactly from sRGB, then :func:`srgb`."""
    c = np.asarray(rgb, dtype=np.float64) / 255
    return srgb(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4))


def _world_extents(spec):
    from renderer.draw import load_mesh_file
    mesh = spec['meshes'][-1]
    pose = np.array(mesh['pose'])
    v = load_mesh_file(mesh['path'])[0] @ pose[:3, :3].T + pose[:3, 3]
    return v.max(axis=0) - v.min(axis=0), v


def test_up_stands_a_z_up_file_upright(assets):
    params = {'meshes': [str(assets / 'bottle_z_up.stl')], 'min_objects': 1, 'max_objects': 1}
    lying = get_family('objects')(dict(params, rotation='none'))
    extents, _ = _world_extents(lying.sample(np.random.default_rng(0)))
    assert extents[1] < extents[2] / 3  # authored z-up, read as y-up: on its side
    upright = get_family('objects')(dict(params, up='+z'))
    for seed in range(5):
        extents, v = _world_extents(upright.sample(np.random.default_rng(seed)))
        assert extents[1] > 3 * max(extents[0], extents[2])
        assert abs(v[:, 1].min()) < 1e-9  # standing on the floor


def test_objects_fill_the_default_views(assets, tmp_path):
    """With the defaults, at least 95 % of the views show the objects on at least 2 % of
    their pixels (the masks tell)."""
    from gqn.data import shards
    root = str(tmp_path / 'objs')
    recipe = resolve({'family': 'objects', 'train_scenes': 24, 'test_scenes': 0,
                      'scenes_per_shard': 24, 'views': 10, 'image_size': 64,
                      'scene': {'meshes': [str(assets / n) for n in
                                           ('crate.obj', 'crate.glb', 'ball.ply',
                                            'bottle_z_up.stl')]}})
    render_dataset('objs', recipe, root, workers=1, progress=False, log=lambda s: None)
    masks = np.asarray(shards.open_masks(root, 'train', '0000'))
    coverage = (masks > 0).mean(axis=(2, 3)).ravel()
    assert (coverage >= 0.02).mean() >= 0.95, np.sort(coverage)[:20]
