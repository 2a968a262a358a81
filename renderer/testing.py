"""Helpers for testing the renderer (and code built on it), shipped with the package.

Like :mod:`renderer.draw`, it imports OpenGL when used: call it after
:mod:`renderer.platform` is configured (``PYOPENGL_PLATFORM=egl`` headless).
"""
import numpy as np

from renderer import platform


def render_stock(spec, intrinsics, viewpoints, shadows=False, offscreen=None):
    """Reference images ``(N, H, W, 3)``: one stock ``OffscreenRenderer.render`` per view.

    Slow; what :class:`renderer.draw.ViewRenderer` is checked against.
    """
    from renderer.draw import build_scene, camera_poses, shadow_flags
    scene, camera_node = build_scene(spec, intrinsics)
    own = offscreen is None
    if own:
        offscreen = platform.offscreen_renderer(intrinsics['width'], intrinsics['height'])
    try:
        images = []
        for pose in camera_poses(viewpoints):
            scene.set_pose(camera_node, pose)
            images.append(offscreen.render(scene, flags=shadow_flags(shadows))[0])
        return np.stack(images)
    finally:
        if own:
            platform.close(offscreen)
