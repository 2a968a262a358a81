"""A complete custom scene family: snowmen in a garden, seen by a ring camera.

Render it with ``gqn render examples/snowman.toml`` (the recipe names it as
``family = "snowman:Snowman"``; the module is found next to the recipe).
"""
import colorsys
import math

from gqn.errors import GQNError
from renderer.families import SceneFamily
from renderer.scene_spec import directional_light, mesh, scene


def _at(x, y, z):
    return [[1.0, 0.0, 0.0, x], [0.0, 1.0, 0.0, y], [0.0, 0.0, 1.0, z], [0.0, 0.0, 0.0, 1.0]]


class Snowman(SceneFamily):
    """Three stacked spheres, a cone nose and a hat on a grassy floor."""

    name = 'snowman'
    defaults = {'min_height': 1.2, 'max_height': 2.0}   # every [scene] key, with its default
    camera = 'ring'                                      # any sampler of renderer.camera
    camera_defaults = {'radius': 5.0, 'height': 1.5, 'pitch_deg': 10.0}

    def __init__(self, params):
        super().__init__(params)
        if not 0 < self.params['min_height'] <= self.params['max_height']:
            raise GQNError('scene: need 0 < min_height <= max_height')

    def sample(self, rng):
        h = rng.uniform(self.params['min_height'], self.params['max_height'])
        radii = [0.2 * h, 0.14 * h, 0.1 * h]
        meshes, y = [], 0.0
        for r in radii:
            meshes.append(mesh('sphere', _at(0.0, y + r, 0.0), [0.95, 0.95, 1.0], extents=[2 * r] * 3))
            y += 1.8 * r
        hat = list(colorsys.hsv_to_rgb(rng.random(), 0.8, 0.7))
        meshes.append(mesh('cylinder', _at(0.0, y + 0.3 * radii[2], 0.0), hat,
                           extents=[1.4 * radii[2], 0.6 * radii[2], 1.4 * radii[2]]))
        yaw = rng.uniform(0, 2 * math.pi)   # the nose looks this way
        head = y - 0.8 * radii[2]
        c, s = math.cos(yaw), math.sin(yaw)  # R_y(yaw) R_x(90 deg): the cone's +y -> (s, 0, c)
        nose = [[c, s, 0.0, radii[2] * s], [0.0, 0.0, -1.0, head], [-s, c, 0.0, radii[2] * c],
                [0.0, 0.0, 0.0, 1.0]]
        meshes.append(mesh('cone', nose, [1.0, 0.5, 0.1], extents=[0.06 * h, 0.25 * h, 0.06 * h]))
        floor = mesh('quad', _at(0.0, 0.0, 0.0), extents=[8.0, 1.0, 8.0],
                     texture={'kind': 'noise', 'size': 64, 'cells': 8, 'seed': int(rng.integers(1000)),
                              'colors': [[0.2, 0.45, 0.15], [0.35, 0.6, 0.25]]})
        return scene(self.name, [0.6, 0.75, 0.95], [0.4] * 3, [floor] + meshes,
                     [directional_light([-0.3, -1.0, -0.5], 2.5)])
