"""MNIST dice: cubes whose six faces carry six different handwritten digits, in a room."""
import math

import numpy as np

from gqn.errors import GQNError
from renderer import digits, scene_spec
from renderer.rooms import Rooms, is_color, pose

#: Box faces in texture-atlas order (see renderer.draw.box).
FACES = ['+x', '-x', '+y', '-y', '+z', '-z']


class MnistDice(Rooms):
    """1..``max_objects`` dice of edge ``min_size..max_size`` in a :class:`Rooms` room.

    Each die shows six different digit classes, one random image of each
    class, drawn as ``ink_color`` on ``face_color``. The digit source is
    ``mnist``: a path to MNIST IDX files (or their folder) or an ``.npz``,
    or ``""`` for Chainer's MNIST cache if it is already present, else the
    scikit-learn digits (:mod:`renderer.digits`); nothing is downloaded.
    The spec of each die stores ``faces`` (face -> digit label) and its
    texture stores the source and the image ``indices`` (atlas order
    +x, -x, +y, -y, +z, -z). Other ``[scene]`` keys are those of
    :class:`~renderer.rooms.Rooms` but ``shapes``.
    """

    name = 'mnist_dice'
    defaults = dict({k: v for k, v in Rooms.defaults.items() if k != 'shapes'},
                    min_objects=1, max_objects=1, min_size=1.0, max_size=1.0,
                    grid_spacing=1.5, mnist='', digit_size=28,
                    face_color=[0.95, 0.95, 0.92], ink_color=[0.05, 0.05, 0.1])
    path_keys = ('mnist',)

    def __init__(self, params):
        super().__init__(params)
        p = self.params
        if not (isinstance(p['digit_size'], int) and 4 <= p['digit_size'] <= 256):
            raise GQNError('scene.digit_size must be an int in 4..256, got %r' % (p['digit_size'],))
        for key in ('face_color', 'ink_color'):
            if not is_color(p[key]):
                raise GQNError('scene.%s must be [r, g, b] in 0..1, got %r' % (key, p[key]))
        self.source = digits.resolve_source(p['mnist'])
        images, labels = digits.load_digits(self.source)
        self.by_label = [np.flatnonzero(labels == d) for d in range(10)]
        self.labels = [d for d in range(10) if len(self.by_label[d])]

    def manifest_info(self):
        images, _ = digits.load_digits(self.source)
        return {'digit_source': dict(self.source, images=int(len(images)),
                                     image_size=int(images.shape[1]))}

    def die(self, rng, size, yaw, x, z):
        p = self.params
        classes = rng.choice(self.labels, size=6, replace=False)
        indices = [int(rng.choice(self.by_label[c])) for c in classes]
        texture = {'kind': 'digits', 'size': p['digit_size'], 'source': self.source,
                   'indices': indices, 'colors': [list(p['face_color']), list(p['ink_color'])]}
        return scene_spec.mesh('box', pose(yaw, (x, size / 2, z)), texture=texture,
                               extents=[size] * 3,
                               faces=dict(zip(FACES, [int(c) for c in classes])))

    def sample(self, rng):
        p = self.params
        n = self.count(rng)
        sizes = rng.uniform(p['min_size'], p['max_size'], n).tolist()
        yaws = (rng.uniform(0, 2 * math.pi, n) if p['rotate'] else np.zeros(n)).tolist()
        radii = [self.object_radius(s) for s in sizes]
        xz = self.grid_positions(rng, radii).tolist()
        meshes = [self.die(rng, s, yaw, x, z) for s, yaw, (x, z) in zip(sizes, yaws, xz)]
        footprints = [[float(x), float(z), float(r)] for (x, z), r in zip(xz, radii)]
        return self.scene(rng, meshes, footprints)
