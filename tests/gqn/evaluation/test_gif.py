import os

import numpy as np
from PIL import Image

from gqn.cli import main
from gqn.evaluation.gif import orbit_viewpoints
from gqn.testing.datasets import TINY_MODEL
from gqn.training.config import TrainConfig
from gqn.training.trainer import train


def sphere_viewpoints(n, distance=3.0, seed=0):
    rng = np.random.RandomState(seed)
    yaw = rng.uniform(-np.pi, np.pi, n)
    pitch = rng.uniform(0.1, 0.5, n)
    xyz = distance * np.stack([np.cos(pitch) * np.sin(yaw), np.sin(pitch),
                               np.cos(pitch) * np.cos(yaw)], -1)
    return np.concatenate([xyz, np.stack([np.cos(yaw), np.sin(yaw), np.cos(pitch),
                                          np.sin(pitch)], -1)], -1).astype(np.float32)


def test_orbit_follows_the_scene_cameras():
    v = sphere_viewpoints(15)
    orbit = orbit_viewpoints(v, 36, start_yaw=0.3)
    assert orbit.shape == (36, 7) and orbit.dtype == np.float32
    yaw = np.arctan2(orbit[:, 4], orbit[:, 3])
    steps = np.diff(np.unwrap(yaw))
    np.testing.assert_allclose(steps, np.deg2rad(10), atol=1e-5)
    np.testing.assert_allclose(yaw[0], 0.3, atol=1e-6)
    # position angles agree with the stored yaw (the camera faces the axis)
    np.testing.assert_allclose(np.arctan2(orbit[:, 0], orbit[:, 2]), yaw, atol=1e-5)
    radius = np.hypot(orbit[:, 0], orbit[:, 2])
    np.testing.assert_allclose(radius, np.median(np.hypot(v[:, 0], v[:, 2])), rtol=1e-5)
    np.testing.assert_allclose(orbit[:, 1], np.median(v[:, 1]), rtol=1e-5)
    np.testing.assert_allclose(orbit[:, 3] ** 2 + orbit[:, 4] ** 2, 1, rtol=1e-5)
    np.testing.assert_allclose(orbit[:, 5] ** 2 + orbit[:, 6] ** 2, 1, rtol=1e-5)
    # on a sphere camera set, height/radius give back the median pitch
    np.testing.assert_allclose(np.arctan2(orbit[0, 1], radius[0]),
                               np.arctan2(orbit[0, 6], orbit[0, 5]), atol=0.05)


def test_orbit_pitch_sweep_stays_within_the_scene_range():
    v = sphere_viewpoints(15)
    pitch_v = np.arctan2(v[:, 6], v[:, 5])
    orbit = orbit_viewpoints(v, 24, sweep_pitch=True)
    pitch = np.arctan2(orbit[:, 6], orbit[:, 5])
    assert pitch.min() >= pitch_v.min() - 1e-5 and pitch.max() <= pitch_v.max() + 1e-5
    assert pitch.max() - pitch.min() > 0.5 * (pitch_v.max() - pitch_v.min())
    np.testing.assert_allclose(np.arctan2(orbit[:, 1], np.hypot(orbit[:, 0], orbit[:, 2])),
                               pitch, atol=1e-5)


def gif_frames(path):
    img = Image.open(path)
    frames = []
    for i in range(img.n_frames):
        img.seek(i)
        frames.append(np.asarray(img.convert('RGB')))
    return img, frames


def test_gif_without_scene_specs(synthetic_dataset, tmp_path):
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=3),
          run, quiet=True)
    out = str(tmp_path / 'a.gif')
    args = ['gif', run, '--frames', '12', '--context', '2', '--samples', '2', '--scale', '2',
            '--scene', '1', '--scene', '3']
    assert main(args + ['--out', out]) == 0
    img, frames = gif_frames(out)
    assert img.n_frames == 12 and img.info.get('loop') == 0
    # two rows; per row 2 context + mean + 2 samples tiles of 16*2 px (+4 px gap), 12 px labels
    assert frames[0].shape == (2 * (32 + 12 + 4), 5 * (32 + 4), 3)
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])
    again = str(tmp_path / 'b.gif')
    assert main(args + ['--out', again]) == 0
    assert open(out, 'rb').read() == open(again, 'rb').read()
    assert main(args + ['--out', again, '--seed', '5']) == 0
    assert open(out, 'rb').read() != open(again, 'rb').read()


def test_gif_removes_the_temporary_file_of_a_killed_run_only(synthetic_dataset, tmp_path):
    """A 0-byte ``<gif>.tmp<pid>`` of an ended process goes; a live process's stays."""
    import subprocess
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2),
          run, quiet=True)
    ended = subprocess.Popen(['true'])
    ended.wait()
    live = subprocess.Popen(['sleep', '60'])
    out = tmp_path / 'gifs' / 'a.gif'
    out.parent.mkdir()
    dead, alive = ('%s.tmp%d' % (out, p.pid) for p in (ended, live))
    try:
        for path in (dead, alive):
            open(path, 'wb').close()
        assert main(['gif', run, '--frames', '2', '--scale', '1', '--out', str(out)]) == 0
        assert sorted(os.listdir(out.parent)) == ['a.gif', os.path.basename(alive)]
    finally:
        live.kill()
        live.wait()


def test_gif_ground_truth_equals_a_direct_re_render(tmp_path):
    import json

    from gqn.data import shards
    from gqn.data.shard_dataset import ShardDataset
    from gqn.evaluation.gif import ground_truth
    from renderer import render_viewpoints
    from renderer.testing import render_tiny

    root = render_tiny(str(tmp_path / 'sm'))
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=root, model=TINY_MODEL, batch_size=2, iterations=2), run,
          quiet=True)
    out = str(tmp_path / 'gt.gif')
    assert main(['gif', run, '--scene', '3', '--frames', '6', '--context', '1', '--scale', '1',
                 '--out', out]) == 0
    img, frames = gif_frames(out)
    assert img.n_frames == 6
    # tiles: context | truth | mean | sample, each 16 px + 4 px gap, 12 px label
    assert frames[0].shape == (16 + 12 + 4, 4 * (16 + 4), 3)

    dataset = ShardDataset(root, 'test')
    x, v = dataset[3]
    rng = np.random.RandomState(3)
    context = np.sort(rng.choice(5, 1, replace=False))
    orbit = orbit_viewpoints(v, 6, float(np.arctan2(v[context[0], 4], v[context[0], 3])))
    with open(os.path.join(root, 'test', shards.SCENES, '0001.json')) as f:
        spec = json.load(f)[1]
    direct = render_viewpoints(shards.read_manifest(root), spec, orbit)
    truth = ground_truth(root, 'test', dataset, 3, orbit)
    np.testing.assert_array_equal(truth, direct)
    assert len({t.tobytes() for t in truth}) == 6  # the orbit really moves
    # the truth tile of every GIF frame is that re-render (GIF palette quantisation aside)
    for f, frame in enumerate(frames):
        tile = frame[12:28, 20:36].astype(int)
        assert np.abs(tile - direct[f]).mean() < 8
