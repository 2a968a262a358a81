"""Scene families: the interface every procedural scene generator implements.

A scene family turns a seeded ``numpy.random.Generator`` and the recipe's
``[scene]`` table into a *scene spec*: a JSON-serialisable dict that fully
describes one scene, so the renderer can draw it (again) from any viewpoint::

    {
      "family": "shepard_matzler",
      "background": [r, g, b],              # 0..1, linear in the output image
      "ambient": [r, g, b],                 # ambient light colour x intensity
      "meshes": [                           # drawn with pyrender's PBR shader
        {"shape": "box",                    # primitive name, see renderer/draw.py
         "extents": [sx, sy, sz],           # world units
         "pose": [[...4x4 row-major...]],   # model-to-world
         "color": [r, g, b],                # 0..1 vertex colour
         "metallic": 0.0, "roughness": 1.0},
        ...
      ],
      "lights": [
        {"type": "directional", "direction": [x, y, z],   # direction light travels
         "color": [r, g, b], "intensity": 3.0},
      ],
    }

Families choose a camera sampler from :mod:`renderer.camera` by name
(``camera``) and may override its defaults (``camera_defaults``); the recipe's
``[camera]`` table overrides both.

Families are looked up by name in :data:`FAMILIES` (``"module:Class"``
strings, imported on demand).
"""
import importlib

from gqn.errors import GQNError


class SceneFamily:
    """Base of scene families.

    Subclasses set ``name``, ``defaults`` (every ``[scene]`` key with its
    default; other keys are rejected), optionally ``camera`` and
    ``camera_defaults``, and implement :meth:`sample`.

    Args:
        params (dict): the recipe's ``[scene]`` table (defaults filled in).
    """

    name = None
    defaults = {}
    camera = 'sphere'
    camera_defaults = {}

    def __init__(self, params):
        self.params = dict(self.defaults, **params)

    def sample(self, rng):
        """Draw one scene spec (a JSON-serialisable dict) with ``rng``."""
        raise NotImplementedError


#: Built-in families: recipe ``family`` value -> ``"module:Class"``.
FAMILIES = {
    'shepard_matzler': 'renderer.shepard_matzler:ShepardMatzler',
}


def get_family(name):
    """The :class:`SceneFamily` subclass registered as ``name``."""
    if name not in FAMILIES:
        raise GQNError('unknown scene family %r (known: %s)' % (name, ', '.join(sorted(FAMILIES))))
    module, cls = FAMILIES[name].split(':')
    return getattr(importlib.import_module(module), cls)
