"""Shepard-Matzler objects: cubes joined face to face by a random walk."""
import colorsys

import numpy as np

from gqn.errors import GQNError
from renderer import scene_spec
from renderer.families import MAX_COLORS, SceneFamily

#: Most cubes an object may have: Shepard-Metzler objects have 5-10; at 1000 the random
#: walk (which restarts when it traps itself) still takes ~0.1 s a scene, and its time
#: grows as the square of the count.
MAX_CUBES = 1000

_STEPS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_color(x):
    return isinstance(x, list) and len(x) == 3 and all(_is_number(c) and 0 <= c <= 1 for c in x)


class ShepardMatzler(SceneFamily):
    """N cubes placed by a self-avoiding, face-adjacent random walk.

    Each cube shares a face with the previous one; the object is centred on
    the mean of the cube centres (the origin). Each cube gets a colour drawn
    uniformly from ``colors`` evenly spaced HSV hues (saturation = value = 1).
    Lighting: ambient plus one directional light fixed in the world.

    The whole object is one object of the masks (id 1, every cube ``object=1``): its
    cubes are glued face to face and the question a GQN answers is where the object
    is and what it looks like, not where one cube ends; ids per cube would also run
    past the 255 a uint8 mask holds for ``cubes`` > 255.

    ``[scene]`` keys (see ``datasets/README.md``): ``cubes`` (int, or
    ``[min, max]`` for a uniformly random count per scene), ``colors``,
    ``cube_size``, ``ambient``, ``light_intensity``, ``light_direction``,
    ``background``.
    """

    name = 'shepard_matzler'
    defaults = {'cubes': 7, 'colors': 10, 'cube_size': 1.0, 'ambient': 0.3,
                'light_intensity': 3.0, 'light_direction': [-0.4, -1.0, -0.6],
                'background': [0.0, 0.0, 0.0]}
    camera = 'sphere'
    camera_defaults = {'min_distance': 9.0, 'max_distance': 9.0,
                       'min_pitch_deg': -90.0, 'max_pitch_deg': 90.0}

    def __init__(self, params):
        super().__init__(params)
        p = self.params
        cubes = p['cubes']
        counts = cubes if isinstance(cubes, list) and len(cubes) == 2 else [cubes, cubes]
        if not (all(isinstance(c, int) and not isinstance(c, bool) for c in counts)
                and 1 <= counts[0] <= counts[1] <= MAX_CUBES):
            raise GQNError('scene.cubes must be an int in 1..%d or [min, max] within it, got %r'
                           % (MAX_CUBES, cubes))
        if not (isinstance(p['colors'], int) and 1 <= p['colors'] <= MAX_COLORS):
            raise GQNError('scene.colors must be an int in 1..%d, got %r' % (MAX_COLORS, p['colors']))
        for key in ('cube_size', 'light_intensity'):
            if not (_is_number(p[key]) and p[key] > 0):
                raise GQNError('scene.%s must be positive, got %r' % (key, p[key]))
        if not (_is_number(p['ambient']) and p['ambient'] >= 0):
            raise GQNError('scene.ambient must be >= 0, got %r' % (p['ambient'],))
        d = p['light_direction']
        if not (isinstance(d, list) and len(d) == 3 and all(map(_is_number, d)) and any(d)):
            raise GQNError('scene.light_direction must be a non-zero [x, y, z], got %r' % (d,))
        if not _is_color(p['background']):
            raise GQNError('scene.background must be [r, g, b] in 0..1, got %r' % (p['background'],))
        self.palette = [list(colorsys.hsv_to_rgb(k / p['colors'], 1.0, 1.0))
                        for k in range(p['colors'])]

    def walk(self, rng, n):
        """Integer cube centres ``(n, 3)``: a self-avoiding face-adjacent walk."""
        while True:
            cells = [(0, 0, 0)]
            while len(cells) < n:
                free = [s for s in map(tuple, cells[-1] + _STEPS) if s not in cells]
                if not free:
                    break
                cells.append(free[rng.integers(len(free))])
            if len(cells) == n:
                return np.array(cells, dtype=np.float64)

    def sample(self, rng):
        p = self.params
        cubes = p['cubes']
        n = int(rng.integers(cubes[0], cubes[1] + 1)) if isinstance(cubes, list) else cubes
        centres = self.walk(rng, n)
        centres = (centres - centres.mean(axis=0)) * p['cube_size']
        colors = rng.integers(len(self.palette), size=n)
        s = float(p['cube_size'])
        meshes = []
        for c, k in zip(centres.tolist(), colors.tolist()):
            pose = [[1.0, 0.0, 0.0, c[0]], [0.0, 1.0, 0.0, c[1]],
                    [0.0, 0.0, 1.0, c[2]], [0.0, 0.0, 0.0, 1.0]]
            meshes.append(scene_spec.mesh('box', pose, self.palette[k], extents=[s, s, s],
                                          object=1))
        return scene_spec.scene(
            self.name, p['background'], [float(p['ambient'])] * 3, meshes,
            [scene_spec.directional_light(p['light_direction'], p['light_intensity'])])
