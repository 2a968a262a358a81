"""Helpers for testing the renderer (and code built on it), shipped with the package.

Like :mod:`renderer.draw`, it imports OpenGL when used: call it after
:mod:`renderer.platform` is configured (``PYOPENGL_PLATFORM=egl`` headless).
"""
import numpy as np

from renderer import platform


def render_tiny(root, train_scenes=4, test_scenes=4, views=5, image_size=16):
    """Render a tiny Shepard-Matzler dataset (the default recipe, two scenes per shard,
    scene specs stored) into ``root`` in this process, quietly; returns ``root``."""
    from renderer import render_dataset
    from renderer.recipe import resolve
    render_dataset('tiny', resolve({'train_scenes': train_scenes, 'test_scenes': test_scenes,
                                    'scenes_per_shard': 2, 'views': views,
                                    'image_size': image_size}),
                   root, workers=1, progress=False, log=lambda s: None)
    return root


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


#: The colours of :func:`write_mesh_assets`' texture (left half, right half) and ball.
TEXTURE_COLOURS = ((230, 20, 20), (20, 20, 230))
BALL_COLOUR = (20, 220, 20)


def write_mesh_assets(folder):
    """Mesh files with their own looks, made with trimesh, for tests and benchmarks.

    Writes ``crate.obj`` (with ``material.mtl`` and ``material_0.png``) and ``crate.glb``: a
    unit box textured half :data:`TEXTURE_COLOURS` red, half blue (every triangle maps to
    the whole texture); ``ball.ply``: a sphere with vertex colours :data:`BALL_COLOUR`;
    ``plain.stl``: a sphere with no colours; ``bottle_z_up.stl``: a 0.4 x 0.4 x 2 box
    authored z-up.

    Returns:
        list: the paths of the five mesh files.
    """
    import os

    import trimesh
    from PIL import Image
    texture = np.zeros((16, 16, 3), np.uint8)
    texture[:, :8], texture[:, 8:] = TEXTURE_COLOURS
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    corners = box.vertices[box.faces].reshape(-1, 3)
    crate = trimesh.Trimesh(corners, np.arange(len(corners)).reshape(-1, 3), process=False)
    uv = np.tile([[0.05, 0.05], [0.95, 0.05], [0.5, 0.95]], (len(box.faces), 1))
    crate.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(texture))
    ball = trimesh.creation.icosphere(subdivisions=2)
    ball.visual.vertex_colors = list(BALL_COLOUR) + [255]
    meshes = {'crate.obj': crate, 'crate.glb': crate, 'ball.ply': ball,
              'plain.stl': trimesh.creation.icosphere(subdivisions=2),
              'bottle_z_up.stl': trimesh.creation.box(extents=[0.4, 0.4, 2.0])}
    paths = []
    for name, mesh in meshes.items():
        paths.append(os.path.join(folder, name))
        mesh.export(paths[-1])
    return paths
