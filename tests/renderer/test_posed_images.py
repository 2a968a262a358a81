"""``gqn import-images`` and ``gqn export-nerfstudio`` (:mod:`renderer.posed_images`)."""
import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from gqn.cli import main
from gqn.data import shards
from gqn.data.shard_dataset import ShardDataset
from renderer import camera
from renderer.camera import parse_up, up_rotation
from renderer.posed_images import roll_of


def test_up_rotation_turns_up_onto_y():
    for text in ('+x', '-x', '+y', '-y', '+z', '-z', '1,2,3', '0.1,-1,0.2'):
        r = up_rotation(parse_up(text))
        np.testing.assert_allclose(r @ parse_up(text), [0, 1, 0], atol=1e-12)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1)
    for bad in ('up', '1,2', '0,0,0', 'x,y,z'):
        with pytest.raises(Exception, match='up must be'):
            parse_up(bad)


def _pose(position, roll=0.0):
    """An OpenGL camera-to-world pose at ``position`` looking at the origin, rolled."""
    v = camera.look_at_origin(np.asarray(position, dtype=np.float64))
    pose = camera.pose_from_viewpoint(v.astype(np.float64))
    c, s = math.cos(roll), math.sin(roll)
    pose[:3, :3] = pose[:3, :3] @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return pose


def test_roll_of_a_pose():
    for roll in (0.0, 0.3, -1.2, 2.5):
        assert roll_of(_pose((1.0, 2.0, -3.0), roll)[:3, :3]) == pytest.approx(roll, abs=1e-9)


def _write_images(folder, n, size=(40, 30), seed=0):
    """``n`` images of ``size`` (w, h) whose centred square is one colour per image and
    whose margins are black; returns the colours."""
    rng = np.random.RandomState(seed)
    colours = rng.randint(0, 256, (n, 3)).astype(np.uint8)
    w, h = size
    side = min(w, h)
    x0, y0 = (w - side) // 2, (h - side) // 2
    for i, colour in enumerate(colours):
        img = np.zeros((h, w, 3), np.uint8)
        img[y0:y0 + side, x0:x0 + side] = colour
        Image.fromarray(img).save(os.path.join(folder, 'f%02d.png' % i))
    return colours


def test_transforms_json_z_up_and_roll(tmp_path, capsys):
    """A z-up nerfstudio scene: the world is turned to +y up, the roll is reported."""
    src = tmp_path / 'src'
    positions_y_up = [(0, 1, 3), (3, 0.5, 0), (-2, 2, -2), (0.5, 0.2, -3)]
    # the same cameras in a z-up world: (x, y, z)_yup = (x, z, -y)_zup
    z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)  # y-up -> z-up
    colours = {}
    for s in range(3):
        scene = src / ('scene%d' % s)
        scene.mkdir(parents=True)
        colours[s] = _write_images(str(scene), 4, seed=s)
        frames = []
        for i, p in enumerate(positions_y_up):
            pose = _pose(p, roll=0.3 if (s, i) == (1, 2) else 0.0)
            m = np.eye(4)
            m[:3, :3] = z_up @ pose[:3, :3]
            m[:3, 3] = z_up @ pose[:3, 3]
            frames.append({'file_path': 'f%02d' % i, 'transform_matrix': m.tolist()})
        json.dump({'fl_x': 30.0, 'fl_y': 30.0, 'cx': 20.0, 'cy': 15.0, 'frames': frames},
                  open(scene / 'transforms.json', 'w'))
    out = str(tmp_path / 'ds')
    assert main(['import-images', str(src), '--out', out, '--image-size', '8', '--up', '+z',
                 '--pick', 'first', '--test-scenes', '1']) == 0
    printed = capsys.readouterr().out
    assert 'scene1 17.2' in printed  # 0.3 rad of roll, reported
    manifest = shards.read_manifest(out)
    assert manifest['splits'] == {'train': {'scenes': 2, 'shards': 1},
                                  'test': {'scenes': 1, 'shards': 1}}
    assert manifest['conversion']['roll_dropped_deg']['scene1'] == pytest.approx(17.189, abs=1e-3)
    assert manifest['intrinsics']['yfov'] == pytest.approx(2 * math.atan(15 / 30))
    assert manifest['intrinsics']['cx'] == pytest.approx((20 - 5) * 8 / 30)
    assert manifest['conversion']['intrinsics_differ'] == [] and 'warning' not in printed
    train = ShardDataset(out, 'train', raw=True)
    images, v = train[1]
    expected = camera.look_at_origin(np.array(positions_y_up, dtype=np.float64))
    np.testing.assert_allclose(v, expected, atol=1e-5)  # the roll dropped, +y up again
    np.testing.assert_array_equal(images[:, 4, 4], colours[1])
    assert main(['check', out]) == 0


def test_csv_poses_in_degrees(tmp_path):
    scene = tmp_path / 'src' / 'a'
    scene.mkdir(parents=True)
    _write_images(str(scene), 5, size=(20, 20))
    rows = ['file,x,y,z,yaw,pitch']
    for i in range(5):
        rows.append('f%02d.png,%g,1,2,%g,%g' % (i, i, 30 * i, -10))
    (scene / 'poses.csv').write_text('\n'.join(rows) + '\n')
    out = str(tmp_path / 'ds')
    assert main(['import-images', str(tmp_path / 'src'), '--out', out, '--image-size', '10',
                 '--views', '3', '--seed', '4']) == 0
    images, v = ShardDataset(out, 'train', raw=True)[0]
    picked = np.sort(np.random.RandomState(4).choice(5, 3, replace=False))
    yaw = np.radians(30 * picked)
    np.testing.assert_allclose(v[:, 0], picked, atol=1e-6)
    np.testing.assert_allclose(v[:, 3:5], np.stack([np.cos(yaw), np.sin(yaw)], -1), atol=1e-6)
    np.testing.assert_allclose(v[:, 5:], [[math.cos(math.radians(-10)),
                                           math.sin(math.radians(-10))]] * 3, atol=1e-6)
    assert shards.read_manifest(out)['intrinsics'] is None


def test_render_export_import_round_trip(tmp_path):
    from renderer.testing import render_tiny
    root = render_tiny(str(tmp_path / 'sm'), train_scenes=2, test_scenes=3, views=4)
    ns = str(tmp_path / 'ns')
    assert main(['export-nerfstudio', root, '--out', ns]) == 0
    assert sorted(os.listdir(ns)) == ['test_00000', 'test_00001', 'test_00002']
    t = json.load(open(os.path.join(ns, 'test_00001', 'transforms.json')))
    assert t['up'] == [0.0, 1.0, 0.0] and t['w'] == 16 and len(t['frames']) == 4
    back = str(tmp_path / 'back')
    assert main(['import-images', ns, '--out', back, '--image-size', '16',
                 '--pick', 'first']) == 0
    original, imported = ShardDataset(root, 'test', raw=True), ShardDataset(back, 'train', raw=True)
    assert len(imported) == 3
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(imported[i][0]), np.asarray(original[i][0]))
        np.testing.assert_allclose(imported[i][1], original[i][1], atol=1e-5)
    intr, back_intr = shards.read_manifest(root)['intrinsics'], shards.read_manifest(back)['intrinsics']
    for key in ('fx', 'fy', 'cx', 'cy', 'yfov'):
        assert back_intr[key] == pytest.approx(intr[key], rel=1e-6)


def _one_scene(tmp_path, n=3):
    scene = tmp_path / 'src' / 's0'
    scene.mkdir(parents=True)
    _write_images(str(scene), n)
    frames = [{'file_path': 'f%02d.png' % i, 'transform_matrix': _pose((1 + i, 1, 2)).tolist()}
              for i in range(n)]
    return scene, frames


@pytest.mark.parametrize('case', ['missing image', 'unreadable', 'matrix shape',
                                  'not a rotation', 'mixed sizes', 'no up', 'bad csv'])
def test_bad_input_names_the_file_and_writes_nothing(tmp_path, capsys, case):
    scene, frames = _one_scene(tmp_path)
    up = ['--up', '+y']
    named = str(scene / 'transforms.json')
    if case == 'missing image':
        os.remove(scene / 'f01.png')
        named = str(scene / 'f01.png')
    elif case == 'unreadable':
        (scene / 'f02.png').write_bytes(b'not a png')
        named = str(scene / 'f02.png')
    elif case == 'matrix shape':
        frames[1]['transform_matrix'] = [[1, 0, 0], [0, 1, 0]]
    elif case == 'not a rotation':
        frames[2]['transform_matrix'][0][0] = 3.0
    elif case == 'mixed sizes':
        Image.new('RGB', (50, 30)).save(scene / 'f01.png')
        named = str(scene / 'f01.png')
    elif case == 'no up':
        up = []
    json.dump({'fl_x': 30.0, 'frames': frames}, open(scene / 'transforms.json', 'w'))
    if case == 'bad csv':
        os.remove(scene / 'transforms.json')
        (scene / 'poses.csv').write_text('file,x,y,z,yaw,pitch\nf00.png,1,2,3,x,4\n')
        named = str(scene / 'poses.csv')
    out = tmp_path / 'ds'
    assert main(['import-images', str(tmp_path / 'src'), '--out', str(out)] + up) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and err.startswith('gqn import-images: error: ' + named), err
    assert not out.exists() and os.listdir(tmp_path) == ['src']


def test_fewer_views_are_named_and_skipped(tmp_path, capsys):
    scene, frames = _one_scene(tmp_path, n=3)
    json.dump({'fl_x': 30.0, 'up': [0, 1, 0], 'frames': frames},
              open(scene / 'transforms.json', 'w'))
    other = tmp_path / 'src' / 's1'
    other.mkdir()
    _write_images(str(other), 2)
    json.dump({'fl_x': 30.0, 'up': [0, 1, 0], 'frames': frames[:2]},
              open(other / 'transforms.json', 'w'))
    out = str(tmp_path / 'ds')
    assert main(['import-images', str(tmp_path / 'src'), '--out', out, '--views', '3']) == 0
    assert 'skipped s1: 2 views, fewer than 3' in capsys.readouterr().out
    assert shards.read_manifest(out)['source']['skipped'] == [{'scene': 's1', 'views': 2}]
    assert len(ShardDataset(out, 'train')) == 1


def test_scenes_with_other_intrinsics_are_named(tmp_path, capsys):
    """The manifest keeps the first scene's intrinsics; scenes that differ are warned of."""
    for name, focal in (('s0', 30.0), ('s1', 30.0), ('s2', 45.0)):
        scene = tmp_path / 'src' / name
        scene.mkdir(parents=True)
        _write_images(str(scene), 3)
        frames = [{'file_path': 'f%02d.png' % i,
                   'transform_matrix': _pose((1 + i, 1, 2)).tolist()} for i in range(3)]
        json.dump({'fl_x': focal, 'up': [0, 1, 0], 'frames': frames},
                  open(scene / 'transforms.json', 'w'))
    out = str(tmp_path / 'ds')
    assert main(['import-images', str(tmp_path / 'src'), '--out', out, '--image-size', '8']) == 0
    assert ('warning: the manifest records the intrinsics of s0 (the first scene); these '
            'scenes differ from them: s2') in capsys.readouterr().out
    manifest = shards.read_manifest(out)
    assert manifest['conversion']['intrinsics_differ'] == ['s2']
    assert manifest['intrinsics']['fx'] == pytest.approx(30.0 * 8 / 30)
