"""Drawing scene specs with pyrender, many views per framebuffer.

:func:`build_scene` turns a scene spec (see :mod:`renderer.families`) into a
``pyrender.Scene`` whose meshes are merged into one primitive per material.
:class:`ViewRenderer` draws all views of a scene into one framebuffer row
(view ``i`` in the ``i``-th ``W x H`` viewport) with pyrender's own shader
program, lighting, material and shadow code, then resolves and reads the row
back once. Per view only the viewport, ``V`` and ``cam_pos`` change, which is
what makes it several times faster than one ``OffscreenRenderer.render`` per
view; ``tests/renderer/test_draw.py`` checks it against stock pyrender.

Instance masks (``ViewRenderer.render(..., masks=True)``) come from an id pass
over the same row: each merged primitive carries its vertices' object ids
(:func:`renderer.scene_spec.object_ids`) as one more vertex attribute, and a
small program of our own (``renderer/shaders/object_id.*``) writes ``id / 255``
to the red channel of the non-multisampled framebuffer, with the colour pass's
viewports, matrices, depth test and face culling, and no lighting or
antialiasing; one ``GL_RED`` readback gives the ids.

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
from renderer.scene_spec import PRIMITIVES, object_ids, validate_spec

pyrender = platform.load_pyrender()
from OpenGL import GL as gl  # noqa: E402  (after PyOpenGL is configured)
from OpenGL.GL import shaders as gl_shaders  # noqa: E402
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
def _load_trimesh(path):
    """A mesh file as one ``trimesh.Trimesh``, all parts merged (cached), checked."""
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
    return m


def load_mesh_file(path):
    """Vertices, vertex normals, faces of a mesh file, all parts merged (cached).

    Raises :class:`~gqn.errors.GQNError` naming the file when it is missing,
    unreadable or has no triangles.
    """
    m = _load_trimesh(path)
    return (np.array(m.vertices, dtype=np.float64), np.array(m.vertex_normals, dtype=np.float64),
            np.array(m.faces))


@functools.lru_cache(maxsize=64)
def mesh_file_appearance(path):
    """A mesh file's own colours, aligned with :func:`load_mesh_file`'s vertices.

    Returns:
        tuple or None: ``('texture', uv float32 (N, 2), image uint8 (h, w, 3))`` for a
        textured file (OBJ/MTL ``map_Kd``, glTF base colour texture; a file of several
        textured parts gets trimesh's packed atlas); ``('colors', float RGB (N, 3))`` for
        vertex or face colours, or an untextured material's colour (OBJ ``Kd``, glTF
        ``baseColorFactor``), as linear values (the stored colours are read as sRGB, as
        textures are); ``None`` when the file has none. A texture is drawn as it is:
        the material's colour factor is not multiplied in (exporters write 0.4 beside a
        texture, trimesh's among them).
    """
    m = _load_trimesh(path)
    visual = m.visual
    if not visual.defined:
        return None
    if visual.kind == 'texture':
        material = visual.material
        image = getattr(material, 'baseColorTexture', None) or getattr(material, 'image', None)
        if image is not None and visual.uv is not None and len(visual.uv) == len(m.vertices):
            return ('texture', np.asarray(visual.uv, dtype=np.float32),
                    np.asarray(image.convert('RGB'), dtype=np.uint8))
        color = np.asarray(material.main_color, dtype=np.float64)[:3] / 255.0
        return 'colors', _linear(np.tile(color, (len(m.vertices), 1)))
    return 'colors', _linear(np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0)


def _linear(srgb):
    """sRGB values in 0..1 to linear ones (pyrender's shader encodes its output as sRGB):
    a file's colours are display colours, like its textures', so a texel and a vertex of
    the same stored colour render alike."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


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
    return _build_scene(spec, intrinsics)[:2]


def _build_scene(spec, intrinsics):
    """:func:`build_scene`, plus the merged primitives (a list) and, for each, where its
    vertices come from: ``(mesh indices, vertex counts)``, two int arrays, in vertex order."""
    validate_spec(spec)
    scene = pyrender.Scene(bg_color=list(spec['background']) + [1.0],
                           ambient_light=spec['ambient'])
    groups = {}
    poses = np.asarray([m['pose'] for m in spec['meshes']], dtype=np.float64).reshape(-1, 4, 4)
    normal_matrices = np.linalg.inv(poses[:, :3, :3]).transpose(0, 2, 1) if len(poses) else []
    for index, (m, pose, normal_matrix) in enumerate(zip(spec['meshes'], poses, normal_matrices)):
        positions, normals, triangles, uv = SHAPES[m['shape']](m)
        normals = normals @ normal_matrix.T
        texture = m.get('texture')
        look = mesh_file_appearance(m['path']) if m.get('appearance') == 'file' else None
        key = (m['metallic'], m['roughness'])
        if texture is not None:  # procedural: (metallic, roughness, texture)
            key, paint = key + (json.dumps(texture, sort_keys=True),), uv
        elif look is not None and look[0] == 'texture':  # the file's: (..., 'file', path)
            key, paint = key + ('file', m['path']), look[1]
        else:  # colours: one per mesh, or the file's per vertex
            paint = m['color'] if look is None else look[1]
        groups.setdefault(key, []).append((
            positions @ pose[:3, :3].T + pose[:3, 3],
            normals / np.linalg.norm(normals, axis=1, keepdims=True),
            triangles, paint, index))
    primitives, sources = [], []
    for key, parts in groups.items():
        offsets = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
        if len(key) == 2:
            extra = {'color_0': np.concatenate([_vertex_colors(p[3], len(p[0])) for p in parts])}
            texture = None
        else:
            extra = {'texcoord_0': np.concatenate([p[3] for p in parts]).astype(np.float32)}
            image = _texture(key[2]) if len(key) == 3 else mesh_file_appearance(key[3])[2]
            texture = pyrender.Texture(source=image, source_channels='RGB')
        primitives.append(pyrender.Primitive(
            positions=np.concatenate([p[0] for p in parts]).astype(np.float32),
            normals=np.concatenate([p[1] for p in parts]).astype(np.float32),
            indices=np.concatenate([p[2] + o for p, o in zip(parts, offsets)]).astype(np.uint32),
            material=pyrender.MetallicRoughnessMaterial(
                baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=key[0],
                roughnessFactor=key[1], alphaMode='OPAQUE', baseColorTexture=texture),
            **extra))
        sources.append((np.array([p[4] for p in parts]), np.array([len(p[0]) for p in parts])))
    if primitives:
        scene.add(pyrender.Mesh(primitives))
    for light in spec['lights']:
        pose = np.eye(4)
        pose[:3, :3] = _frame(-np.asarray(light['direction'], dtype=np.float64))
        scene.add(pyrender.DirectionalLight(color=light['color'], intensity=light['intensity']),
                  pose=pose)
    camera_node = scene.add(_camera(intrinsics), pose=np.eye(4))
    return scene, camera_node, primitives, sources


def _vertex_colors(paint, n):
    """RGBA ``(n, 4)`` of one colour ``[r, g, b]`` or of per-vertex colours ``(n, 3)``."""
    paint = np.asarray(paint, dtype=np.float64)
    rgb = np.broadcast_to(paint, (n, 3))
    return np.concatenate([rgb, np.ones((n, 1))], axis=1)


def _vertex_object_ids(spec, sources):
    """Object id of every vertex of each merged primitive: float32 arrays, one per primitive.

    Args:
        spec (dict): the scene spec.
        sources (list): per primitive ``(mesh indices, vertex counts)``, from ``_build_scene``.

    Raises:
        GQNError: when the spec has more than 255 objects
            (:func:`renderer.scene_spec.object_ids`).
    """
    ids = np.asarray(object_ids(spec), dtype=np.float32)
    return [np.repeat(ids[meshes], counts) for meshes, counts in sources]


#: Shader files of the id pass (shipped in the package, ``renderer/shaders/``).
SHADER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'shaders')

#: Vertex attribute location of the object ids (pyrender's primitives use 0..6 here:
#: position, normal, colour or texture coordinates, and 4 of the instance matrix).
OBJECT_ID_LOC = 15


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
        self._ids = np.empty((h, w * views), dtype=np.uint8)
        self._id_programs = {}  # instance-matrix location -> (program, P, V, M locations)

    def close(self):
        """Release the OpenGL context."""
        if self._offscreen is not None:
            if self._id_programs:
                self._offscreen._platform.make_current()
                for program in self._id_programs.values():
                    gl.glDeleteProgram(program[0])
                self._id_programs = {}
            platform.close(self._offscreen)
            self._offscreen = None

    def render(self, spec, viewpoints, masks=False):
        """Images of a scene spec from viewpoints, and optionally its instance masks.

        Args:
            spec (dict): a scene spec (:mod:`renderer.families`).
            viewpoints (array): float ``(N, 7)``.
            masks (bool): also render each pixel's object id
                (:func:`renderer.scene_spec.object_ids`) in an id pass over the same
                framebuffer row; the images are the same bytes either way.

        Returns:
            numpy.ndarray or tuple: images uint8 ``(N, H, W, 3)``; with ``masks``,
            ``(images, masks)``, masks uint8 ``(N, H, W)``: 0 where no object is seen
            (sky, floor, walls), ``i`` where object ``i`` is the nearest surface.

        Raises:
            GQNError: for a malformed spec or viewpoints, or (with ``masks``) a spec of
                more than 255 objects.
        """
        poses = camera_poses(viewpoints)
        scene, _, primitives, sources = _build_scene(spec, self.intrinsics)
        vertex_ids = _vertex_object_ids(spec, sources) if masks else None
        w, h = self.intrinsics['width'], self.intrinsics['height']
        out = np.empty((len(poses), h, w, 3), dtype=np.uint8)
        ids = np.empty((len(poses), h, w), dtype=np.uint8) if masks else None
        self._offscreen._platform.make_current()
        self._renderer._update_context(scene, self.flags)
        if masks:
            for primitive, v in zip(primitives, vertex_ids):
                _attach_object_ids(primitive, v)
        for start in range(0, len(poses), self.views):
            chunk = poses[start:start + self.views]
            out[start:start + len(chunk)] = self._render_row(scene, chunk)
            if masks:
                ids[start:start + len(chunk)] = self._render_id_row(scene, chunk)
        return (out, ids) if masks else out

    def _render_row(self, scene, poses):
        r = self._renderer
        w, h = self.intrinsics['width'], self.intrinsics['height']
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
        pixels = self._read(gl.GL_RGB, self._pixels, width)
        # rows bottom-up -> top-down; (H, N*W, 3) -> (N, H, W, 3)
        return pixels[::-1].reshape(h, len(poses), w, 3).transpose(1, 0, 2, 3)

    def _render_id_row(self, scene, poses):
        """Object ids uint8 ``(N, H, W)`` of the views ``poses``: the id pass (after the
        colour pass of the same row, whose pixels are read already)."""
        r = self._renderer
        w, h = self.intrinsics['width'], self.intrinsics['height']
        gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, r._main_fb)  # not multisampled
        gl.glViewport(0, 0, w * self.views, h)
        gl.glDisable(gl.GL_MULTISAMPLE)
        gl.glDisable(gl.GL_BLEND)
        gl.glEnable(gl.GL_DEPTH_TEST)
        gl.glDepthMask(gl.GL_TRUE)
        gl.glDepthFunc(gl.GL_LESS)
        gl.glDepthRange(0.0, 1.0)
        gl.glClearColor(0.0, 0.0, 0.0, 0.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT | gl.GL_DEPTH_BUFFER_BIT)
        P = scene.main_camera_node.camera.get_projection_matrix(width=w, height=h)
        V = _world_to_camera(poses).astype(np.float32)
        for node in r._sorted_mesh_nodes(scene):
            if not node.mesh.is_visible:
                continue
            M = scene.get_pose(node).astype(np.float32)
            for primitive in node.mesh.primitives:
                program, loc_p, loc_v, loc_m = self._id_program(primitive)
                gl.glUseProgram(program)
                gl.glUniformMatrix4fv(loc_p, 1, gl.GL_TRUE, P.astype(np.float32))
                gl.glUniformMatrix4fv(loc_m, 1, gl.GL_TRUE, M)
                _bind_face_state(primitive.material)
                primitive._bind()
                for i in range(len(poses)):
                    gl.glViewport(i * w, 0, w, h)
                    gl.glUniformMatrix4fv(loc_v, 1, gl.GL_TRUE, V[i])
                    _draw(primitive)
                primitive._unbind()
        gl.glUseProgram(0)
        gl.glEnable(gl.GL_BLEND)  # as pyrender leaves it (blend ONE, ZERO: opaque)
        ids = self._read(gl.GL_RED, self._ids, w * len(poses))
        return ids[::-1].reshape(h, len(poses), w).transpose(1, 0, 2)

    def _read(self, fmt, buffer, width):
        """Read the first ``width`` columns of the main (resolved) framebuffer as uint8
        ``(H, width[, 3])`` (rows bottom-up) into ``buffer`` where it fits."""
        h = buffer.shape[0]
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self._renderer._main_fb)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        if width == buffer.shape[1]:
            gl.glReadPixels(0, 0, width, h, fmt, gl.GL_UNSIGNED_BYTE, array=buffer)
            return buffer
        return np.frombuffer(gl.glReadPixels(0, 0, width, h, fmt, gl.GL_UNSIGNED_BYTE),
                             dtype=np.uint8).reshape((h, width) + buffer.shape[2:])

    def _id_program(self, primitive):
        """The id pass program for a primitive's vertex layout, compiled once per context:
        ``(program, P, V, M uniform locations)``."""
        loc = _instance_matrix_location(primitive)
        if loc not in self._id_programs:
            self._id_programs[loc] = _compile_id_program(loc)
        return self._id_programs[loc]


def _instance_matrix_location(primitive):
    """The vertex attribute location of a primitive's instance matrix: after its position,
    normal, tangent, texture coordinates and colour (pyrender's ``Primitive`` layout)."""
    return 1 + sum(a is not None for a in (primitive.normals, primitive.tangents,
                                           primitive.texcoord_0, primitive.texcoord_1,
                                           primitive.color_0))


def _attach_object_ids(primitive, ids):
    """Add the vertex attribute :data:`OBJECT_ID_LOC` (float ``ids``, one per vertex) to a
    primitive in the current context; pyrender deletes its buffer with the primitive's."""
    buffer = gl.glGenBuffers(1)
    primitive._buffers.append(buffer)
    primitive._bind()
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    data = np.ascontiguousarray(ids, dtype=np.float32)
    gl.glBufferData(gl.GL_ARRAY_BUFFER, data.nbytes, data, gl.GL_STATIC_DRAW)
    gl.glVertexAttribPointer(OBJECT_ID_LOC, 1, gl.GL_FLOAT, gl.GL_FALSE, 4, ctypes.c_void_p(0))
    gl.glEnableVertexAttribArray(OBJECT_ID_LOC)
    primitive._unbind()
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)


def _bind_face_state(material):
    """Face culling and polygon mode as pyrender's ``_bind_and_draw_primitive`` sets them for
    a material (no render flags that change them are used here)."""
    if material.doubleSided:
        gl.glDisable(gl.GL_CULL_FACE)
    else:
        gl.glEnable(gl.GL_CULL_FACE)
        gl.glCullFace(gl.GL_BACK)
    gl.glPolygonMode(gl.GL_FRONT_AND_BACK, gl.GL_LINE if material.wireframe else gl.GL_FILL)


@functools.lru_cache(maxsize=None)
def _shader_source(name):
    with open(os.path.join(SHADER_DIR, name)) as f:
        return f.read()


def _compile_id_program(instance_matrix_location):
    """Compile and link the id pass program in the current context:
    ``(program, P, V, M uniform locations)``."""
    def source(name):
        return (_shader_source(name).replace('INST_M_LOC', str(instance_matrix_location))
                .replace('OBJECT_ID_LOC', str(OBJECT_ID_LOC)))
    shaders = [gl_shaders.compileShader(source('object_id.vert'), gl.GL_VERTEX_SHADER),
               gl_shaders.compileShader(source('object_id.frag'), gl.GL_FRAGMENT_SHADER)]
    program = gl.glCreateProgram()
    for shader in shaders:
        gl.glAttachShader(program, shader)
    gl.glLinkProgram(program)
    for shader in shaders:
        gl.glDeleteShader(shader)
    if gl.glGetProgramiv(program, gl.GL_LINK_STATUS) != gl.GL_TRUE:
        log = gl.glGetProgramInfoLog(program)
        gl.glDeleteProgram(program)
        raise GQNError('cannot link the id pass shaders (%s): %s' % (SHADER_DIR, log))
    return (program,) + tuple(gl.glGetUniformLocation(program, name) for name in ('P', 'V', 'M'))


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
