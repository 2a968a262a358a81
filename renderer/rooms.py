"""Rooms: a textured square room with a few primitive objects on a 3x3 grid."""
import colorsys
import math

import numpy as np

from gqn.errors import GQNError
from renderer import scene_spec
from renderer.families import MAX_COLORS, SceneFamily
from renderer.textures import KINDS

#: Object shapes a room may hold (trimesh primitives, see renderer/draw.py).
SHAPES = ['box', *scene_spec.PRIMITIVES]


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_color(x):
    """Whether ``x`` is an RGB colour: a list of three numbers in [0, 1]."""
    return isinstance(x, list) and len(x) == 3 and all(_number(c) and 0 <= c <= 1 for c in x)


def pose(yaw=0.0, translation=(0.0, 0.0, 0.0)):
    """Row-major 4x4 model-to-world list: rotation ``yaw`` (radians) about +y, then translation."""
    c, s = math.cos(yaw), math.sin(yaw)
    x, y, z = (float(t) for t in translation)
    return [[c, 0.0, s, x], [0.0, 1.0, 0.0, y], [-s, 0.0, c, z], [0.0, 0.0, 0.0, 1.0]]


class Rooms(SceneFamily):
    """A square room (floor, four walls, open sky) holding 1..``max_objects`` objects.

    The floor is ``room_size x room_size`` centred on the origin at y = 0,
    the walls ``wall_height`` high. The floor gets a random texture of
    ``floor_textures``, all four walls one random texture of
    ``wall_textures`` (:mod:`renderer.textures`). Objects are drawn from
    ``shapes`` with a size uniform in ``[min_size, max_size]`` (the side of
    their bounding box), a colour from ``colors`` evenly spaced hues, and
    stand on the floor in distinct cells of a 3 x 3 grid of spacing
    ``grid_spacing``, jittered within their cell (unless ``exact_grid``) and
    turned about +y (if ``rotate``). Each object's bounding circle stays
    inside its cell, so objects never intersect each other or the walls.
    Light: ambient plus one directional light, from a random direction above
    (``random_light``) or along ``light_direction``.

    The spec's ``room`` entry (size, height, object footprints) lets the
    ``free`` camera stay inside the room and out of the objects.
    """

    name = 'rooms'
    defaults = {
        'room_size': 7.0, 'wall_height': 2.3, 'min_objects': 1, 'max_objects': 3,
        'shapes': list(SHAPES), 'min_size': 0.6, 'max_size': 0.95, 'colors': 7,
        'grid_spacing': 1.4, 'exact_grid': False, 'rotate': True,
        'floor_textures': ['checker', 'noise', 'gradient', 'stripes'],
        'wall_textures': ['bricks', 'stripes', 'noise', 'checker', 'gradient'],
        'texture_size': 64, 'ambient': 0.4, 'light_intensity': 2.5,
        'random_light': True, 'light_direction': [-0.4, -1.0, -0.6],
        'background': [0.55, 0.75, 0.95],
    }
    camera = 'ring'
    camera_defaults = {'radius': 3.3, 'height': 1.0, 'pitch_deg': 0.0}

    def __init__(self, params):
        super().__init__(params)
        p = self.params
        for key in ('min_size', 'max_size'):
            if not (_number(p[key]) and p[key] > 0):
                raise GQNError('scene.%s must be positive, got %r' % (key, p[key]))
        if p['min_size'] > p['max_size']:
            raise GQNError('scene: need min_size <= max_size')
        bad = [s for s in p.get('shapes', SHAPES) if s not in SHAPES]
        if not p.get('shapes', SHAPES) or bad:
            raise GQNError('scene.shapes must be a non-empty list of %s, got %r'
                           % (', '.join(SHAPES), p['shapes']))
        self.check_room(self.object_radius(p['max_size']))

    def check_room(self, max_radius):
        """Check the room, grid, texture and light keys; ``max_radius``: largest object footprint."""
        p = self.params
        for key in ('room_size', 'wall_height', 'grid_spacing', 'light_intensity'):
            if not (_number(p[key]) and p[key] > 0):
                raise GQNError('scene.%s must be positive, got %r' % (key, p[key]))
        counts = (p['min_objects'], p['max_objects'])
        if not (all(isinstance(c, int) and not isinstance(c, bool) for c in counts)
                and 1 <= counts[0] <= counts[1] <= 9):
            raise GQNError('scene: min_objects and max_objects must be ints with 1 <= min_objects '
                           '<= max_objects <= 9 (a 3x3 grid), got %r, %r'
                           % (p['min_objects'], p['max_objects']))
        if max_radius > p['grid_spacing'] / 2:
            raise GQNError('scene: the largest objects (footprint radius %.3f) do not fit grid '
                           'cells of grid_spacing %s (need grid_spacing >= %.3f)'
                           % (max_radius, p['grid_spacing'], 2 * max_radius))
        if 3 * p['grid_spacing'] > p['room_size']:
            raise GQNError('scene: the 3x3 grid (3 x grid_spacing = %s) does not fit in room_size %s'
                           % (3 * p['grid_spacing'], p['room_size']))
        for key in ('floor_textures', 'wall_textures'):
            bad = [k for k in p[key] if k not in KINDS or k == 'digits']
            if not p[key] or bad:
                raise GQNError('scene.%s must be a non-empty list of checker, stripes, bricks, '
                               'noise, gradient, got %r' % (key, p[key]))
        if not (isinstance(p['colors'], int) and 1 <= p['colors'] <= MAX_COLORS):
            raise GQNError('scene.colors must be an int in 1..%d, got %r' % (MAX_COLORS, p['colors']))
        if not (isinstance(p['texture_size'], int) and 4 <= p['texture_size'] <= 1024):
            raise GQNError('scene.texture_size must be an int in 4..1024, got %r' % (p['texture_size'],))
        if not (_number(p['ambient']) and p['ambient'] >= 0):
            raise GQNError('scene.ambient must be >= 0, got %r' % (p['ambient'],))
        d = p['light_direction']
        if not (isinstance(d, list) and len(d) == 3 and all(map(_number, d)) and any(d)):
            raise GQNError('scene.light_direction must be a non-zero [x, y, z], got %r' % (d,))
        if not is_color(p['background']):
            raise GQNError('scene.background must be [r, g, b] in 0..1, got %r' % (p['background'],))
        self.palette = [list(colorsys.hsv_to_rgb(k / p['colors'], 0.75, 0.95))
                        for k in range(p['colors'])]

    @staticmethod
    def object_radius(size):
        """Radius of the footprint of an object of ``size`` turned any way about +y."""
        return size * math.sqrt(0.5)

    def room_meshes(self, rng):
        """Floor and wall meshes (textured quads) of a new room."""
        from renderer.textures import random_texture
        p = self.params
        size, height = float(p['room_size']), float(p['wall_height'])
        floor = scene_spec.mesh(
            'quad', pose(), texture=random_texture(rng, p['floor_textures'], p['texture_size']),
            extents=[size, 1.0, size], uv_repeat=[1.0, 1.0])
        wall_texture = random_texture(rng, p['wall_textures'], p['texture_size'])
        repeat = [float(max(1, round(size / height))), 1.0]
        meshes = [floor]
        for k in range(4):
            yaw = k * math.pi / 2  # inward normal = R_y(yaw) @ +z
            n = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
            u = np.cross([0.0, 1.0, 0.0], n)
            rot = np.stack([u, n, np.cross(u, n)], axis=1)  # quad x -> along wall, y -> n, z -> down
            m = np.eye(4)
            m[:3, :3] = rot
            m[:3, 3] = -n * size / 2 + [0.0, height / 2, 0.0]
            meshes.append(scene_spec.mesh('quad', m, texture=wall_texture,
                                          extents=[size, 1.0, height], uv_repeat=repeat))
        return meshes

    def grid_positions(self, rng, radii):
        """Floor positions ``(n, 2)`` (x, z) in distinct jittered 3x3 grid cells."""
        p = self.params
        spacing = p['grid_spacing']
        cells = rng.permutation(9)[:len(radii)]
        centres = (np.stack([cells % 3, cells // 3], axis=1) - 1.0) * spacing
        if p['exact_grid']:
            return centres
        slack = np.maximum(spacing / 2 - np.asarray(radii), 0.0)[:, None]
        return centres + rng.uniform(-1.0, 1.0, (len(radii), 2)) * slack

    def lights(self, rng):
        p = self.params
        if p['random_light']:
            azimuth, elevation = rng.uniform(0, 2 * math.pi), rng.uniform(math.radians(30),
                                                                          math.radians(75))
            direction = [-math.cos(elevation) * math.sin(azimuth), -math.sin(elevation),
                         -math.cos(elevation) * math.cos(azimuth)]
        else:
            direction = [float(x) for x in p['light_direction']]
        return [scene_spec.directional_light(direction, p['light_intensity'])]

    def count(self, rng):
        p = self.params
        return int(rng.integers(p['min_objects'], p['max_objects'] + 1))

    def objects(self, rng, n):
        """``n`` object meshes and their footprint radii."""
        p = self.params
        shapes = rng.integers(len(p['shapes']), size=n)
        sizes = rng.uniform(p['min_size'], p['max_size'], n)
        colors = rng.integers(len(self.palette), size=n)
        yaws = rng.uniform(0, 2 * math.pi, n) if p['rotate'] else np.zeros(n)
        radii = [self.object_radius(s) for s in sizes]
        xz = self.grid_positions(rng, radii)
        meshes = [scene_spec.mesh(p['shapes'][k], pose(yaw, (x, s / 2, z)), self.palette[c],
                                  extents=[s] * 3)
                  for k, s, c, yaw, (x, z) in zip(shapes.tolist(), sizes.tolist(), colors.tolist(),
                                                  yaws.tolist(), xz.tolist())]
        return meshes, [[float(x), float(z), float(r)] for (x, z), r in zip(xz.tolist(), radii)]

    def scene(self, rng, meshes, footprints):
        """The spec of a room holding ``meshes`` (room geometry and light drawn with ``rng``)."""
        p = self.params
        size = p['room_size']
        return scene_spec.scene(
            self.name, p['background'], [float(p['ambient'])] * 3,
            self.room_meshes(rng) + meshes, self.lights(rng),
            room=scene_spec.room([size, size], p['wall_height'], footprints))

    def sample(self, rng):
        meshes, footprints = self.objects(rng, self.count(rng))
        return self.scene(rng, meshes, footprints)
