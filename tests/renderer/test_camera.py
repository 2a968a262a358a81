import numpy as np
import pytest

from gqn.errors import GQNError
from renderer import camera


def test_documented_directions():
    # yaw 0 -> +z, yaw 90 deg -> +x, positive pitch -> +y (up)
    np.testing.assert_allclose(camera.direction(0.0, 0.0), [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(camera.direction(np.pi / 2, 0.0), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(camera.direction(0.0, np.pi / 2), [0, 1, 0], atol=1e-12)
    yaw, pitch = camera.yaw_pitch([1.0, 1.0, 0.0])
    assert yaw == pytest.approx(np.pi / 2) and pitch == pytest.approx(np.pi / 4)


def test_yaw_pitch_recomputable_from_position():
    sampler = camera.SphereCamera({'min_distance': 2.0, 'max_distance': 5.0,
                                   'min_pitch_deg': -80.0, 'max_pitch_deg': 80.0})
    v = sampler.sample(np.random.default_rng(1), 500).astype(np.float64)
    yaw, pitch = camera.yaw_pitch(v[:, :3])
    np.testing.assert_allclose(np.cos(yaw), v[:, 3], atol=1e-5)
    np.testing.assert_allclose(np.sin(yaw), v[:, 4], atol=1e-5)
    np.testing.assert_allclose(np.cos(pitch), v[:, 5], atol=1e-5)
    np.testing.assert_allclose(np.sin(pitch), v[:, 6], atol=1e-5)
    r = np.linalg.norm(v[:, :3], axis=1)
    assert r.min() >= 2.0 - 1e-5 and r.max() <= 5.0 + 1e-5
    assert np.degrees(np.abs(pitch)).max() <= 80.0 + 1e-4
    assert v[:, 1].min() < 0 < v[:, 1].max()  # both hemispheres


def test_pose_looks_at_origin_and_round_trips():
    sampler = camera.SphereCamera({})
    v = sampler.sample(np.random.default_rng(2), 50)
    pose = camera.pose_from_viewpoint(v)
    R = pose[:, :3, :3]
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)
    forward = -R[:, :, 2]  # OpenGL camera looks along -z
    to_origin = -pose[:, :3, 3] / np.linalg.norm(pose[:, :3, 3], axis=1, keepdims=True)
    np.testing.assert_allclose(forward, to_origin, atol=1e-5)
    assert np.all(R[:, 1, 0] == 0)  # no roll: image x axis stays horizontal
    np.testing.assert_allclose(camera.viewpoint_from_pose(pose), v, atol=1e-6)
    # the origin projects to the image centre
    intr = camera.intrinsics({}, 64)
    np.testing.assert_allclose(camera.project(intr, pose[0], [0, 0, 0]), [32, 32], atol=1e-3)


def test_intrinsics_and_errors():
    intr = camera.intrinsics({'yfov_deg': 90.0}, 64)
    assert intr['fx'] == pytest.approx(32.0) and intr['cx'] == 32
    with pytest.raises(GQNError):
        camera.intrinsics({'projection': 'fisheye'}, 64)
    with pytest.raises(GQNError):
        camera.SphereCamera({'min_distance': 3.0, 'max_distance': 1.0})
    with pytest.raises(GQNError):
        camera.pose_from_viewpoint(np.zeros(6))
