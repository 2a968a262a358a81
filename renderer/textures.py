"""Procedural textures: images made in code from a small JSON description.

A texture spec is a dict with ``kind`` and that kind's keys; :func:`make_texture`
turns it into an image, the same bytes every time (random kinds carry their
own ``seed``), so a stored scene spec re-renders exactly. Colours are RGB in
0..1.

=========  ==================================================================
kind       keys
=========  ==================================================================
checker    ``colors`` (2), ``cells`` (squares per side)
stripes    ``colors`` (2), ``stripes`` (per side), ``vertical`` (bool)
bricks     ``colors`` ([brick, mortar]), ``rows``, ``cols``, ``seed``
noise      ``colors`` (2), ``cells`` (noise lattice per side), ``seed``
gradient   ``colors`` (2), ``vertical`` (bool)
digits     ``source`` (:mod:`renderer.digits`), ``indices`` (6), ``colors``
           ([face, ink]): a 3 x 2 atlas, cell ``k`` for box face ``k``
=========  ==================================================================

Every kind has ``size`` (pixels per side; the atlas has ``3 size x 2 size``).
"""
import numpy as np

from gqn.errors import GQNError


def _mix(t, colors):
    """Blend ``colors[0]`` -> ``colors[1]`` by ``t`` in 0..1: float ``(..., 3)``."""
    c0, c1 = (np.asarray(c, dtype=np.float64) for c in colors[:2])
    return c0 + np.asarray(t, dtype=np.float64)[..., None] * (c1 - c0)


def _grid(size):
    return np.meshgrid(np.arange(size) / size, np.arange(size) / size)  # u (cols), v (rows)


def checker(spec):
    u, v = _grid(spec['size'])
    n = spec['cells']
    return _mix((np.floor(u * n) + np.floor(v * n)) % 2, spec['colors'])


def stripes(spec):
    u, v = _grid(spec['size'])
    t = u if spec.get('vertical', True) else v
    return _mix(np.floor(t * spec['stripes']) % 2, spec['colors'])


def bricks(spec):
    size, rows, cols = spec['size'], spec['rows'], spec['cols']
    u, v = _grid(size)
    row = np.floor(v * rows)
    x = u * cols + 0.5 * (row % 2)
    col = np.floor(x) % cols
    fu, fv = x - np.floor(x), v * rows - row
    mortar = (fu < 0.06) | (fv < 0.1)
    shade = np.random.default_rng(spec['seed']).uniform(0.8, 1.1, (rows, cols))
    brick = np.asarray(spec['colors'][0]) * shade[row.astype(int), col.astype(int)][..., None]
    return np.where(mortar[..., None], np.asarray(spec['colors'][1], dtype=np.float64), brick)


def noise(spec):
    size, n = spec['size'], spec['cells']
    lattice = np.random.default_rng(spec['seed']).random((n + 1, n + 1))
    lattice[-1], lattice[:, -1] = lattice[0], lattice[:, 0]  # tiles seamlessly
    x = np.arange(size) * n / size
    i = np.floor(x).astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)  # smoothstep
    rows = lattice[i] * (1 - f)[:, None] + lattice[i + 1] * f[:, None]
    t = rows[:, i] * (1 - f) + rows[:, i + 1] * f
    return _mix(t, spec['colors'])


def gradient(spec):
    u, v = _grid(spec['size'])
    return _mix(v if spec.get('vertical', True) else u, spec['colors'])


def digits(spec):
    from renderer.digits import load_digits, resize
    size = spec['size']
    images = load_digits(spec['source'])[0]
    indices = spec['indices']
    if len(indices) != 6:
        raise GQNError('digits texture needs 6 indices, got %d' % len(indices))
    atlas = np.empty((2 * size, 3 * size, 3))
    for k, index in enumerate(indices):
        ink = resize(images[index], size).astype(np.float64) / 255.0
        r, c = divmod(k, 3)
        atlas[r * size:(r + 1) * size, c * size:(c + 1) * size] = _mix(ink, spec['colors'])
    return atlas


#: Texture makers by ``kind``: spec -> float image ``(H, W, 3)`` in 0..1.
KINDS = {'checker': checker, 'stripes': stripes, 'bricks': bricks, 'noise': noise,
         'gradient': gradient, 'digits': digits}


def make_texture(spec):
    """Image uint8 ``(H, W, 3)`` of a texture spec."""
    if spec.get('kind') not in KINDS:
        raise GQNError('unknown texture kind %r (known: %s)' % (spec.get('kind'), ', '.join(KINDS)))
    image = KINDS[spec['kind']](spec)
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def random_texture(rng, kinds, size):
    """A random texture spec of one of ``kinds``, with a random palette.

    The two colours share a random hue family: the second is a lighter or
    darker, slightly shifted version of the first.
    """
    import colorsys
    kind = kinds[rng.integers(len(kinds))]
    h, s, v = rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.35, 0.75)
    c0 = colorsys.hsv_to_rgb(h, s, v)
    c1 = colorsys.hsv_to_rgb((h + rng.uniform(-0.08, 0.08)) % 1.0, s * rng.uniform(0.3, 1.0),
                             min(1.0, v * rng.uniform(1.25, 1.6)))
    spec = {'kind': kind, 'size': size, 'colors': [list(c0), list(c1)]}
    if kind == 'checker':
        spec['cells'] = int(rng.integers(4, 11))
    elif kind == 'stripes':
        spec.update(stripes=int(rng.integers(4, 13)), vertical=bool(rng.integers(2)))
    elif kind == 'bricks':
        spec.update(rows=int(rng.integers(6, 11)), cols=int(rng.integers(3, 6)),
                    seed=int(rng.integers(2 ** 31)),
                    colors=[list(c0), [0.75, 0.73, 0.7]])
    elif kind == 'noise':
        spec.update(cells=int(rng.integers(4, 12)), seed=int(rng.integers(2 ** 31)))
    elif kind == 'gradient':
        spec['vertical'] = bool(rng.integers(2))
    else:
        raise GQNError('texture kind %r cannot be drawn at random (use: checker, stripes, '
                       'bricks, noise, gradient)' % (kind,))
    return spec
