"""The lean multi-view draw path against stock pyrender, and the camera geometry."""
import numpy as np
import pytest

from renderer import camera, scene_spec
from renderer.draw import ViewRenderer
from renderer.shepard_matzler import ShepardMatzler
from renderer.testing import render_stock

INTR = camera.intrinsics({}, 64)


def _scenes(n, views, seed=0):
    family = ShepardMatzler({})
    sampler = camera.SphereCamera({'min_distance': 9.0, 'max_distance': 9.0})
    rng = np.random.default_rng(seed)
    return [(family.sample(rng), sampler.sample(rng, views)) for _ in range(n)]


@pytest.mark.parametrize('shadows', [False, True])
def test_matches_stock_pyrender(shadows):
    # Stock pyrender draws each view at viewport offset 0 with 4x MSAA; the lean path
    # draws view i at x offset 64*i. Stated tolerance: at most 1 pixel in 10,000 may
    # differ (a vertex snapped differently after the offset), everything else is equal.
    scenes = _scenes(3, 15)
    vr = ViewRenderer(INTR, 15, antialias=True, shadows=shadows)
    try:
        ours = np.stack([vr.render(spec, v) for spec, v in scenes])
    finally:
        vr.close()
    stock = np.stack([render_stock(spec, INTR, v, shadows=shadows) for spec, v in scenes])
    assert ours.shape == stock.shape == (3, 15, 64, 64, 3) and ours.dtype == np.uint8
    differs = np.any(ours != stock, axis=-1).mean()
    assert differs <= 1e-4, differs
    assert (ours.reshape(-1, 3) > 0).any(axis=1).mean() > 0.05  # something was drawn


def test_antialias_flag_and_row_independence():
    (spec, v), = _scenes(1, 15, seed=3)
    sharp = ViewRenderer(INTR, 15, antialias=False)
    smooth = ViewRenderer(INTR, 15, antialias=True)
    try:
        a = sharp.render(spec, v)
        b = smooth.render(spec, v)
        # 30 views are drawn as two rows of 15: each view lands in the same column again
        np.testing.assert_array_equal(sharp.render(spec, np.concatenate([v, v])),
                                      np.concatenate([a, a]))
    finally:
        sharp.close()
        smooth.close()
    assert (a != b).any()
    edge = np.abs(a.astype(int) - b).max(axis=-1) > 0
    assert edge.mean() < 0.1  # only edges change


def test_marker_projects_where_the_camera_model_says():
    # a small white cube at a known point must appear at camera.project(point)
    point = [1.5, 0.8, -1.2]
    pose = np.eye(4)
    pose[:3, 3] = point
    spec = scene_spec.scene('test', [0.0, 0.0, 0.0], [1.0, 1.0, 1.0],
                            [scene_spec.mesh('box', pose, [1.0, 1.0, 1.0], extents=[0.15] * 3)], [])
    positions = 6.0 * camera.direction(np.radians([0, 90, 200, 30, 300]),
                                       np.radians([0, 20, -35, 60, -70]))
    viewpoints = camera.look_at_origin(positions)
    vr = ViewRenderer(INTR, len(viewpoints))
    try:
        images = vr.render(spec, viewpoints)
    finally:
        vr.close()
    for image, v in zip(images, viewpoints):
        mask = image.max(axis=-1) > 0
        assert mask.sum() > 4
        rows, cols = np.nonzero(mask)
        expected = camera.project(INTR, camera.pose_from_viewpoint(v), point)
        # pixel (row, col) covers [col, col + 1) x [row, row + 1): its centre is +0.5
        np.testing.assert_allclose([cols.mean() + 0.5, rows.mean() + 0.5], expected, atol=0.75)
    # sanity of the convention: seen from +z (yaw 0), a point at +x is right of centre,
    # a point at +y is above the centre
    front = camera.pose_from_viewpoint(camera.look_at_origin([0.0, 0.0, 6.0]))
    col, row = camera.project(INTR, front, [1.0, 1.0, 0.0])
    assert col > 32 and row < 32
