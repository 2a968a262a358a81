"""Objects: user-supplied mesh files (OBJ, GLB/GLTF, PLY, STL, ...) on a floor or floating."""
import math

import numpy as np

from gqn.errors import GQNError
from renderer import scene_spec
from renderer.camera import parse_up, up_rotation
from renderer.rooms import Rooms


def _rotation(rng, mode):
    """A random 3x3 rotation: none, about +y (``vertical``) or uniform (``any``)."""
    if mode == 'none':
        return np.eye(3)
    if mode == 'vertical':
        a = rng.uniform(0, 2 * math.pi)
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


class Objects(Rooms):
    """1..``max_objects`` meshes from the files ``meshes``, placed like :class:`Rooms` objects.

    Each object picks a file uniformly. With ``normalize`` a mesh is centred
    on its bounding-box centre and scaled so its bounding sphere has diameter
    1; then it is scaled by a factor uniform in ``[min_scale, max_scale]``,
    rotated (``rotation``: ``"none"``, ``"vertical"`` about +y, or ``"any"``).
    ``materials = "file"`` (the default) draws each file with its own look:
    OBJ/MTL diffuse colours and ``map_Kd`` textures, glTF/GLB base colour
    factors and textures, vertex or face colours; a file with none, and every
    file with ``materials = "palette"``, gets a colour of the ``colors``
    palette. ``up`` is the files' up axis (``"+y"``; ``"+z"`` for files
    authored z-up): they are turned so that it points up. ``placement = "floor"`` stands it on y = 0,
    ``"floating"`` centres it at a height uniform in
    ``[min_height, max_height]``. Objects take distinct jittered cells of a
    3 x 3 grid, as in :class:`Rooms`; with ``floor`` / ``walls`` a textured
    floor / four walls are drawn. Paths are relative to the recipe file.
    Every file is loaded and checked when the recipe is read, before any
    rendering.
    """

    name = 'objects'
    defaults = dict({k: v for k, v in Rooms.defaults.items()
                     if k not in ('shapes', 'min_size', 'max_size')},
                    meshes=[], normalize=True, min_scale=1.0, max_scale=1.3,
                    rotation='vertical', placement='floor', min_height=0.5, max_height=1.5,
                    floor=True, walls=False, materials='file', up='+y')
    path_keys = ('meshes',)
    camera = 'frame'
    camera_defaults = {}

    def __init__(self, params):
        from renderer.draw import load_mesh_file
        p = dict(self.defaults, **params)
        if not (isinstance(p['meshes'], list) and p['meshes']
                and all(isinstance(m, str) for m in p['meshes'])):
            raise GQNError('scene.meshes must be a non-empty list of mesh file paths, got %r'
                           % (p['meshes'],))
        for key in ('min_scale', 'max_scale'):
            if not p[key] > 0:
                raise GQNError('scene.%s must be positive, got %r' % (key, p[key]))
        if p['min_scale'] > p['max_scale']:
            raise GQNError('scene: need min_scale <= max_scale')
        if p['materials'] not in ('file', 'palette'):
            raise GQNError("scene.materials must be 'file' (each file's own colours and "
                           "textures) or 'palette', got %r" % (p['materials'],))
        if not isinstance(p['up'], str):
            raise GQNError("scene.up must be a string such as '+y' or '+z', got %r" % (p['up'],))
        self.up = up_rotation(parse_up(p['up']))
        if p['rotation'] not in ('none', 'vertical', 'any'):
            raise GQNError("scene.rotation must be 'none', 'vertical' or 'any', got %r"
                           % (p['rotation'],))
        if p['placement'] not in ('floor', 'floating'):
            raise GQNError("scene.placement must be 'floor' or 'floating', got %r" % (p['placement'],))
        if not 0 <= p['min_height'] <= p['max_height']:
            raise GQNError('scene: need 0 <= min_height <= max_height')
        self.bounds = []  # per file: centre (3,), bounding radius about the centre
        for path in p['meshes']:
            vertices = load_mesh_file(path)[0] @ self.up.T
            if p['normalize']:
                centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
            else:
                centre = np.zeros(3)
            radius = float(np.linalg.norm(vertices - centre, axis=1).max())
            if not radius > 0:
                raise GQNError('%s: mesh is degenerate (all vertices at one point)' % path)
            self.bounds.append((centre, radius))
        self.unit = [0.5 / r if p['normalize'] else 1.0 for _, r in self.bounds]
        self.params = p
        self.check_room(max(r * u for (_, r), u in zip(self.bounds, self.unit)) * p['max_scale'])

    def sample(self, rng):
        p = self.params
        n = self.count(rng)
        files = rng.integers(len(p['meshes']), size=n).tolist()
        scales = rng.uniform(p['min_scale'], p['max_scale'], n).tolist()
        rotations = [_rotation(rng, p['rotation']) for _ in range(n)]
        colors = rng.integers(len(self.palette), size=n).tolist()
        heights = rng.uniform(p['min_height'], p['max_height'], n).tolist()
        radii = [self.bounds[f][1] * self.unit[f] * s for f, s in zip(files, scales)]
        xz = self.grid_positions(rng, radii).tolist()
        meshes = []
        for f, s, rot, c, h, (x, z) in zip(files, scales, rotations, colors, heights, xz):
            path = p['meshes'][f]
            vertices = _vertices(path) @ self.up.T
            linear = rot * (s * self.unit[f])
            offset = -linear @ self.bounds[f][0]
            y = h if p['placement'] == 'floating' else -float((vertices @ linear.T + offset)[:, 1].min())
            m = np.eye(4)
            m[:3, :3] = linear @ self.up
            m[:3, 3] = offset + [x, y, z]
            look = {'appearance': 'file'} if p['materials'] == 'file' else {}
            meshes.append(scene_spec.mesh('file', m, self.palette[c], path=path, **look))
        footprints = [[float(x), float(z), float(r)] for (x, z), r in zip(xz, radii)]
        spec = self.scene(rng, meshes, footprints)  # its room entry: the footprints
        keep = [p['floor']] + [p['walls']] * 4
        spec['meshes'] = [m for m, k in zip(spec['meshes'][:5], keep) if k] + meshes
        return spec


def _vertices(path):
    from renderer.draw import load_mesh_file
    return load_mesh_file(path)[0]
