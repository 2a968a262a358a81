"""Drawing scene specs with pyrender, many views per framebuffer.

:func:`build_scene` turns a scene spec (see :mod:`renderer.families`) into a
``pyrender.Scene`` whose meshes are merged into one primitive per material.
:class:`ViewRenderer` draws all views of a scene into one framebuffer row
(view ``i`` in the ``i``-th ``W x H`` viewport) with pyrender's own shader
program, lighting, material and shadow code, then resolves and reads the row
back once. Per view only the viewport, ``V`` and ``cam_pos`` change, which is
what makes it several times faster than one ``OffscreenRenderer.render`` per
view; ``tests/renderer/test_draw.py`` checks it against stock pyrender.

This module imports OpenGL: import it lazily (inside functions).
"""
import ctypes
import functools
import json
import os

import numpy as np

from gqn.errors import GQNError
from renderer import platform
from renderer.camera import pose_from_viewpoint
from renderer.scene_spec import PRIMITIVES, validate_spec

pyrender = platform.load_pyrender()
from OpenGL import GL as gl  # noqa: E402  (after PyOpenGL is configured)
from pyrender.constants import ProgramFlags, RenderFlags  # noqa: E402

# Unit box: 6 faces x 4 corners (flat normals), two counter-clockwise triangles per face.
_FACES = []
for _axis in range(3):
    for _sign in (1.0, -1.0):
        _n = np.zeros(3)
        _n[_axis] = _sign
        _u = np.roll(np.eye(3)[_axis], 1) * _sign
        _v = np.cross(_n, _u)
        _FACES.append((_n, [_n + _u * a + _v * b for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]))
_BOX_POSITIONS = 0.5 * np.array([c for _, corners in _FACES for c in corners])
_BOX_NORMALS = np.repeat([n for n, _ in _FACES], 4, axis=0)
_BOX_INDICES = np.array([[4 * f, 4 * f + 1, 4 * f + 2, 4 * f, 4 * f + 2, 4 * f + 3]
                         for f in range(6)]).reshape(-1, 3)


def box(mesh):
    """Positions ``(24, 3)``, normals ``(24, 3)``, triangles ``(12, 3)`` of a box spec.

    Texture coordinates map face ``k`` (+x, -x, +y, -y, +z, -z) to cell ``k``
    of a 3 x 2 atlas (row-major, image rows top-down), upright seen from outside.
    """
    return (_BOX_POSITIONS * np.asarray(mesh['extents'], dtype=np.float64), _BOX_NORMALS,
            _BOX_INDICES, _BOX_UV)


_BOX_UV = np.array([[((k % 3) + (a + 1) / 2) / 3, ((k // 3) + (1 - b) / 2) / 2]
                    for k in range(6) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def quad(mesh):
    """A unit square in the xz plane facing +y, scaled by ``extents`` (x, -, z).

    Texture coordinates run 0..``uv_repeat`` along x and z.
    """
    sx, _, sz = mesh['extents']
    positions = np.array([[-0.5, 0, -0.5], [-0.5, 0, 0.5], [0.5, 0, 0.5], [0.5, 0, -0.5]]) \
        * [sx, 0.0, sz]
    uv = (np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float64)
          * mesh.get('uv_repeat', [1.0, 1.0]))
    return positions, np.tile([0.0, 1.0, 0.0], (4, 1)), np.array([[0, 1, 2], [0, 2, 3]]), uv


@functools.lru_cache(maxsize=None)
def _unit_primitive(shape):
    """Positions, normals, triangles of a unit-size primitive, y up, centred, in a 1x1x1 box."""
    import trimesh
    c = trimesh.creation
    if shape == 'sphere':
        m = c.icosphere(subdivisions=2, radius=0.5)
        return m.vertices, m.vertex_normals, m.faces
    if shape == 'icosahedron':
        m = c.icosahedron()
        m.apply_scale(0.5 / np.abs(m.vertices).max())
    elif shape == 'capsule':
        m = c.capsule(height=0.5, radius=0.25, count=[16, 16])
    elif shape == 'cylinder':
        m = c.cylinder(radius=0.5, height=1.0, sections=24)
    elif shape == 'cone':
        m = c.cone(radius=0.5, height=1.0, sections=24)
        m.apply_translation([0, 0, -0.5])
    else:
        raise GQNError('unknown mesh shape %r (known: %s)' % (shape, ', '.join(SHAPES)))
    m.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # z up -> y up
    if shape == 'capsule':
        return m.vertices, m.vertex_normals, m.faces
    if shape == 'icosahedron':
        m = m.copy()
        m.unmerge_vertices()
        return m.vertices, m.face_normals.repeat(3, axis=0), m.faces
    m = m.smooth_shaded  # smooth sides, sharp rims
    return m.vertices, m.vertex_normals, m.faces


def primitive(mesh):
    """A trimesh primitive (sphere, capsule, ...) scaled to the box ``extents``."""
    positions, normals, triangles = _unit_primitive(mesh['shape'])
    extents = np.asarray(mesh['extents'], dtype=np.float64)
    return positions * extents, normals / extents, triangles, None


@functools.lru_cache(maxsize=64)
def load_mesh_file(path):
    """Vertices, vertex normals, faces of a mesh file, all parts merged (cached).

    Raises :class:`~gqn.errors.GQNError` naming the file when it is missing,
    unreadable or has no triangles.
    """
    import trimesh
    if not os.path.isfile(path):
        raise GQNError('%s: mesh file not found' % path)
    try:
        m = trimesh.load(path, force='mesh')
    except Exception as e:
        raise GQNError('%s: cannot load mesh (%s: %s)' % (path, type(e).__name__, e)) from None
    if not isinstance(m, trimesh.Trimesh) or len(m.faces) == 0 or len(m.vertices) == 0:
        raise GQNError('%s: mesh has no triangles' % path)
    if not np.all(np.isfinite(m.vertices)):
        raise GQNError('%s: mesh has non-finite vertices' % path)
    return (np.array(m.vertices, dtype=np.float64), np.array(m.vertex_normals, dtype=np.float64),
            np.array(m.faces))


def mesh_file(mesh):
    """A mesh file (spec key ``path``), drawn with its ``pose`` only."""
    return load_mesh_file(mesh['path']) + (None,)


#: Mesh builders by spec ``shape`` (the names of :data:`renderer.scene_spec.SHAPE_KEYS`):
#: mesh dict -> (positions, normals, triangles, texture coordinates or None) in model
#: space.
SHAPES = {'box': box, 'quad': quad, 'file': mesh_file,
          **{name: primitive for name in PRIMITIVES}}


@functools.lru_cache(maxsize=16)
def _texture(key):
    from renderer.textures import make_texture
    return make_texture(json.loads(key))


def _frame(z_axis):
    """Rotation whose third column is ``z_axis`` (normalised), with +y kept up where possible."""
    z = np.asarray(z_axis, dtype=np.float64)
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x = x / np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _camera(intrinsics):
    if intrinsics['projection'] == 'perspective':
        return pyrender.PerspectiveCamera(
            yfov=intrinsics['yfov'], znear=intrinsics['znear'], zfar=intrinsics['zfar'],
            aspectRatio=intrinsics['width'] / intrinsics['height'])
    return pyrender.OrthographicCamera(xmag=intrinsics['xmag'], ymag=intrinsics['ymag'],
                                       znear=intrinsics['znear'], zfar=intrinsics['zfar'])


def build_scene(spec, intrinsics):
    """A ``pyrender.Scene`` of a scene spec, with a camera node (identity pose).

    Meshes sharing a material are merged into one primitive with per-vertex
    colours. Returns the scene and its camera node.

    Raises:
        GQNError: naming the first key of ``spec`` that is missing or malformed
            (:func:`renderer.scene_spec.validate_spec`).
    """
    validate_spec(spec)
    scene = pyrender.Scene(bg_color=list(spec['background']) + [1.0],
                           ambient_light=spec['ambient'])
    groups = {}
    poses = np.asarray([m['pose'] for m in spec['meshes']], dtype=np.float64).reshape(-1, 4, 4)
    normal_matrices = np.linalg.inv(poses[:, :3, :3]).transpose(0, 2, 1) if len(poses) else []
    for m, pose, normal_matrix in zip(spec['meshes'], poses, normal_matrices):
        positions, normals, triangles, uv = SHAPES[m['shape']](m)
        normals = normals @ normal_matrix.T
        texture = m.get('texture')
        key = (m['metallic'], m['roughness']) if texture is None else \
            (m['metallic'], m['roughness'], json.dumps(texture, sort_keys=True))
        groups.setdefault(key, []).append((
            positions @ pose[:3, :3].T + pose[:3, 3],
            normals / np.linalg.norm(normals, axis=1, keepdims=True),
            triangles, uv if texture is not None else m['color']))
    primitives = []
    for key, parts in groups.items():
        offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
        textured = len(key) == 3
        if textured:
            extra = {'texcoord_0': np.concatenate([p[3] for p in parts]).astype(np.float32)}
            texture = pyrender.Texture(source=_texture(key[2]), source_channels='RGB')
        else:
            extra = {'color_0': np.concatenate([np.tile(list(p[3]) + [1.0], (len(p[0]), 1))
                                                for p in parts])}
            texture = None
        primitives.append(pyrender.Primitive(
            positions=np.concatenate([p[0] for p in parts]).astype(np.float32),
            normals=np.concatenate([p[1] for p in parts]).astype(np.float32),
            indices=np.concatenate([p[2] + o for p, o in zip(parts, offsets)]).astype(np.uint32),
            material=pyrender.MetallicRoughnessMaterial(
                baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=key[0],
                roughnessFactor=key[1], alphaMode='OPAQUE', baseColorTexture=texture),
            **extra))
    if primitives:
        scene.add(pyrender.Mesh(primitives))
    for light in spec['lights']:
        pose = np.eye(4)
        pose[:3, :3] = _frame(-np.asarray(light['direction'], dtype=np.float64))
        scene.add(pyrender.DirectionalLight(color=light['color'], intensity=light['intensity']),
                  pose=pose)
    camera_node = scene.add(_camera(intrinsics), pose=np.eye(4))
    return scene, camera_node


def shadow_flags(shadows):
    """pyrender flags for shadows of directional lights (or none)."""
    return RenderFlags.SHADOWS_DIRECTIONAL if shadows else RenderFlags.NONE


class ViewRenderer:
    """Renders views of scene specs with one OpenGL context.

    Args:
        intrinsics (dict): from :func:`renderer.camera.intrinsics`.
        views (int): views per framebuffer row (the dataset's views per scene).
            A view's pixels depend only on its scene, pose and column, so
            rendering a scene's stored viewpoints again reproduces them.
        antialias (bool): 4x multisampling (as stock pyrender does).
        shadows (bool): shadow maps for directional lights.

    Call :meth:`close` when done.
    """

    def __init__(self, intrinsics, views, antialias=True, shadows=False):
        self.intrinsics = intrinsics
        self.views = views
        self.antialias = antialias
        self.flags = RenderFlags.OFFSCREEN | shadow_flags(shadows)
        self.shadows = shadows
        w, h = intrinsics['width'], intrinsics['height']
        self._offscreen = platform.offscreen_renderer(w, h)
        self._renderer = self._offscreen._renderer
        self._renderer.viewport_width = w * views
        self._renderer.viewport_height = h
        self._pixels = np.empty((h, w * views, 3), dtype=np.uint8)

    def close(self):
        """Release the OpenGL context."""
        if self._offscreen is not None:
            platform.close(self._offscreen)
            self._offscreen = None

    def render(self, spec, viewpoints):
        """Images uint8 ``(N, H, W, 3)`` of a scene spec from viewpoints ``(N, 7)``."""
        poses = camera_poses(viewpoints)
        scene = build_scene(spec, self.intrinsics)[0]
        w, h = self.intrinsics['width'], self.intrinsics['height']
        out = np.empty((len(poses), h, w, 3), dtype=np.uint8)
        for start in range(0, len(poses), self.views):
            chunk = poses[start:start + self.views]
            out[start:start + len(chunk)] = self._render_row(scene, chunk)
        return out

    def _render_row(self, scene, poses):
        r = self._renderer
        w, h = self.intrinsics['width'], self.intrinsics['height']
        self._offscreen._platform.make_current()
        r._update_context(scene, self.flags)
        if self.shadows:
            for node in scene.directional_light_nodes:
                r._shadow_mapping_pass(scene, node, self.flags)
        r._configure_main_framebuffer()
        target = r._main_fb_ms if self.antialias else r._main_fb
        gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, target)
        gl.glViewport(0, 0, w * self.views, h)
        gl.glEnable(gl.GL_DEPTH_TEST)
        gl.glDepthMask(gl.GL_TRUE)
        gl.glDepthFunc(gl.GL_LESS)
        gl.glDepthRange(0.0, 1.0)
        gl.glClearColor(*scene.bg_color)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT | gl.GL_DEPTH_BUFFER_BIT)
        if self.antialias:
            gl.glEnable(gl.GL_MULTISAMPLE)
        else:
            gl.glDisable(gl.GL_MULTISAMPLE)

        camera = scene.main_camera_node.camera
        P = camera.get_projection_matrix(width=w, height=h)
        V = _world_to_camera(poses).astype(np.float32)
        cam_pos = poses[:, :3, 3].astype(np.float32)
        program = None
        for node in r._sorted_mesh_nodes(scene):
            if not node.mesh.is_visible:
                continue
            for primitive in node.mesh.primitives:
                program = r._get_primitive_program(primitive, self.flags,
                                                   ProgramFlags.USE_MATERIAL)
                program._bind()
                program.set_uniform('P', P)
                r._bind_lighting(scene, program, node, self.flags)
                loc_v = gl.glGetUniformLocation(program._program_id, 'V')
                loc_cam = gl.glGetUniformLocation(program._program_id, 'cam_pos')
                for i in range(len(poses)):
                    gl.glViewport(i * w, 0, w, h)
                    gl.glUniformMatrix4fv(loc_v, 1, gl.GL_TRUE, V[i])
                    gl.glUniform3fv(loc_cam, 1, cam_pos[i])
                    if i == 0:  # binds material, textures, blending, culling
                        r._bind_and_draw_primitive(primitive, scene.get_pose(node), program,
                                                   self.flags)
                        continue
                    primitive._bind()
                    _draw(primitive)
                    primitive._unbind()
                r._reset_active_textures()
        if program is not None:
            program._unbind()

        width = w * len(poses)
        if self.antialias:
            gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, r._main_fb_ms)
            gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, r._main_fb)
            gl.glBlitFramebuffer(0, 0, width, h, 0, 0, width, h,
                                 gl.GL_COLOR_BUFFER_BIT, gl.GL_LINEAR)
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, r._main_fb)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        pixels = self._pixels[:, :width]
        if width == self._pixels.shape[1]:
            gl.glReadPixels(0, 0, width, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE, array=pixels)
        else:
            pixels = np.frombuffer(
                gl.glReadPixels(0, 0, width, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE),
                dtype=np.uint8).reshape(h, width, 3)
        # rows bottom-up -> top-down; (H, N*W, 3) -> (N, H, W, 3)
        return pixels[::-1].reshape(h, len(poses), w, 3).transpose(1, 0, 2, 3)


def _draw(primitive):
    n_instances = 1 if primitive.poses is None else len(primitive.poses)
    if primitive.indices is not None:
        gl.glDrawElementsInstanced(primitive.mode, primitive.indices.size, gl.GL_UNSIGNED_INT,
                                   ctypes.c_void_p(0), n_instances)
    else:
        gl.glDrawArraysInstanced(primitive.mode, 0, len(primitive.positions), n_instances)


def _world_to_camera(poses):
    """Inverses of rigid camera-to-world poses ``(N, 4, 4)``."""
    V = np.zeros_like(poses)
    R_t = poses[:, :3, :3].transpose(0, 2, 1)
    V[:, :3, :3] = R_t
    V[:, :3, 3] = -np.einsum('nij,nj->ni', R_t, poses[:, :3, 3])
    V[:, 3, 3] = 1.0
    return V


def camera_poses(viewpoints):
    """Camera-to-world poses ``(N, 4, 4)`` of viewpoints ``(N, 7)``, checked (shape, finite)."""
    viewpoints = np.asarray(viewpoints)
    if viewpoints.ndim != 2 or viewpoints.shape[1] != 7:
        raise GQNError('viewpoints must have shape (N, 7), got %s' % (viewpoints.shape,))
    if not np.all(np.isfinite(viewpoints)):
        raise GQNError('viewpoints must be finite')
    return pose_from_viewpoint(viewpoints)
