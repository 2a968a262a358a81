"""The documentation figure of the camera convention, drawn by the renderer itself.

``python scripts/camera_figure.py [--out datasets/camera_convention.png]`` renders
the world axes (+x red, +y green, +z blue arrows from the origin) with four
ring cameras (yaw 0, 90, 180, 270 degrees, pitch 20 degrees) from a high
overview camera, then what each of the four cameras sees, labelled with its
7-d viewpoint. ``datasets/README.md`` shows the result.
"""
import math

import numpy as np

from renderer import camera, scene_spec

#: Cameras shown: yaw in degrees, all on a ring of radius 6 at pitch 20 degrees.
YAWS = [0, 90, 180, 270]
RADIUS, PITCH = 6.0, math.radians(20.0)


def _mesh(shape, extents, rotation, position, color):
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = position
    return scene_spec.mesh(shape, pose, color, extents=extents)


def _pointing(d):
    """Rotation taking +y to the unit vector ``d``."""
    d = np.asarray(d, dtype=np.float64) / np.linalg.norm(d)
    x = np.cross(d, [0.0, 1.0, 0.0])
    x = x / np.linalg.norm(x) if np.linalg.norm(x) > 1e-6 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, d, np.cross(x, d)], axis=1)


def ring_viewpoints():
    """Viewpoints float32 ``(4, 7)`` of the cameras of :data:`YAWS`."""
    yaw = np.radians(YAWS)
    position = RADIUS * camera.direction(yaw, np.full(len(yaw), PITCH))
    return camera.viewpoint(position, yaw, np.full(len(yaw), PITCH))


def axes_spec(with_cameras):
    """Scene spec: axis arrows, a grey floor disc, and (optionally) camera markers."""
    colors = np.eye(3) * 0.9 + 0.05
    meshes = [_mesh('cylinder', [4.0, 0.02, 4.0], np.eye(3), [0, -0.01, 0], [0.8, 0.8, 0.8])]
    for axis in range(3):
        d = np.eye(3)[axis]
        rot = _pointing(d)
        meshes.append(_mesh('cylinder', [0.12, 2.0, 0.12], rot, d * 1.0, colors[axis]))
        meshes.append(_mesh('cone', [0.35, 0.5, 0.35], rot, d * 2.25, colors[axis]))
    meshes.append(_mesh('sphere', [0.3] * 3, np.eye(3), [0, 0, 0], [0.2, 0.2, 0.2]))
    if with_cameras:
        for v in ring_viewpoints():
            pose = camera.pose_from_viewpoint(v)
            look = -pose[:3, 2]  # cameras look along their local -z
            meshes.append(_mesh('box', [0.5, 0.5, 0.5], pose[:3, :3], pose[:3, 3], [0.95, 0.8, 0.1]))
            meshes.append(_mesh('cone', [0.4, 0.5, 0.4], _pointing(look), pose[:3, 3] + 0.45 * look,
                                [0.95, 0.8, 0.1]))
    return scene_spec.scene('figure', [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], meshes,
                            [scene_spec.directional_light([-0.3, -1.0, -0.4], 2.5)])


def make_figure(size=256):
    """The figure as uint8 ``(H, W, 3)``."""
    from PIL import Image, ImageDraw

    from renderer.draw import ViewRenderer
    intr = camera.intrinsics({'yfov_deg': 45.0}, size)
    overview_v = camera.look_at_origin(np.array([[9.0, 10.0, 13.0]]))
    vr = ViewRenderer(intr, 4, antialias=True)
    try:
        overview = vr.render(axes_spec(True), overview_v)[0]
        views = vr.render(axes_spec(False), ring_viewpoints())
    finally:
        vr.close()
    small = size // 2
    canvas = Image.new('RGB', (size + 2 * small + 10, size + 40), 'white')
    canvas.paste(Image.fromarray(overview), (0, 0))
    draw = ImageDraw.Draw(canvas)
    pose = camera.pose_from_viewpoint(overview_v[0])
    labels = [('+x', [2.9, 0, 0]), ('+y', [0, 2.9, 0]), ('+z', [0, 0, 2.9])]
    labels += [('yaw %d' % y, p[:3] + [0, 0.6, 0]) for y, p in zip(YAWS, ring_viewpoints())]
    for text, point in labels:
        col, row = camera.project(intr, pose, np.asarray(point, dtype=np.float64))
        draw.text((col - 10, row - 6), text, fill='black')
    draw.text((4, size + 4), 'world: +y up; cameras (yellow) look along local -z', fill='black')
    draw.text((4, size + 18), 'yaw = atan2(x, z), pitch = elevation (+ = looking down)', fill='black')
    for k, (image, v) in enumerate(zip(views, ring_viewpoints())):
        x, y = size + 10 + (k % 2) * small, (k // 2) * (small + 20)
        canvas.paste(Image.fromarray(image).resize((small, small), Image.BILINEAR), (x, y))
        draw.text((x + 2, y + small + 2), 'yaw %d, pitch 20' % YAWS[k], fill='black')
    return np.asarray(canvas)


def write_figure(path):
    """Render :func:`make_figure` and write it to ``path`` (PNG)."""
    from PIL import Image

    from gqn import files
    figure = Image.fromarray(make_figure())
    files.atomic_write(path, lambda f: figure.save(f, format='PNG', optimize=True))
