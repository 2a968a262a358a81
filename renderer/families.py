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
         "metallic": 0.0, "roughness": 1.0,
         "object": 1},                      # optional: instance mask id, 0 background
        ...
      ],
      "lights": [
        {"type": "directional", "direction": [x, y, z],   # direction light travels
         "color": [r, g, b], "intensity": 3.0},
      ],
    }

Mesh ``shape`` is one of ``box``, ``sphere``, ``cylinder``, ``capsule``,
``cone``, ``icosahedron`` (unit-sized primitives scaled by ``extents``; see
:data:`renderer.draw.SHAPES`), ``quad`` (a unit square in the xz plane facing
+y, for floors and walls) or ``file`` (a mesh file, key ``path``, drawn with
``pose`` only). Instead of ``color`` a mesh may carry a procedural
``texture`` (a dict, see :mod:`renderer.textures`) and ``uv_repeat``.
The optional ``object`` (an int, 0..255) says which object of the scene a mesh
belongs to in the instance masks, 0 for the background; without it a ``quad``
is background and any other mesh an object of its own
(:func:`renderer.scene_spec.object_ids`), so a family sets it only to group
meshes into one object (Shepard-Matzler's cubes) or to make a solid background.
A family that draws a room adds ``"room": {"size": [sx, sz], "height": h,
"footprints": [[x, z, r], ...]}`` so the ``free`` camera stays inside it and
out of the objects.

Build the entries with :mod:`renderer.scene_spec` (``mesh``, ``directional_light``,
``room``, ``scene``); every spec a family returns is checked by
:func:`renderer.scene_spec.validate_spec` before it is drawn, so a missing or
malformed key is one error line naming the family and the key.

Writing a family (the built-in ones use exactly this interface)::

    from renderer import scene_spec
    from renderer.families import SceneFamily

    class Kitchen(SceneFamily):
        name = 'kitchen'
        defaults = {'tables': 2}          # every [scene] key and its default
        camera = 'ring'                   # camera sampler (renderer.camera)
        camera_defaults = {'radius': 4.0}

        def sample(self, rng):            # rng: numpy.random.Generator
            table = scene_spec.mesh('box', np.eye(4), [0.6, 0.4, 0.2], extents=[1.0, 0.8, 1.0])
            return scene_spec.scene(self.name, [0.9] * 3, 0.4, [table],
                                    [scene_spec.directional_light([0, -1, 0], 3.0)])

and name it in a recipe as ``family = "mypkg.scenes:Kitchen"`` (the module
is imported from ``sys.path``, the recipe's folder or the working
directory), or register it under a short name with an entry point in the
``gqn.scene_families`` group. The recipe's ``[camera]`` table overrides the
family's camera choice and defaults.
"""
import importlib
import os
import sys

from gqn.errors import GQNError

#: Entry-point group where installed packages register scene families.
ENTRY_POINT_GROUP = 'gqn.scene_families'

#: Most ``colors`` (evenly spaced hues) a built-in family takes: the hue circle at full
#: saturation has 6 x 255 = 1530 distinct 8-bit RGB colours, so more hues repeat colours
#: (and a palette of millions only costs time and memory).
MAX_COLORS = 1530


class SceneFamily:
    """Base of scene families.

    Subclasses set ``name``, ``defaults`` (every ``[scene]`` key with its
    default; other keys are rejected), optionally ``camera`` (a sampler name
    of :mod:`renderer.camera` or a ``"module:attr"`` user sampler),
    ``camera_defaults`` and ``path_keys`` (``[scene]`` keys holding a file
    path or a list of paths, made absolute relative to the recipe file
    before ``__init__``), and implement :meth:`sample`. ``__init__`` checks
    the parameters and raises :class:`~gqn.errors.GQNError` on bad ones,
    before anything is rendered.

    Args:
        params (dict): the recipe's ``[scene]`` table (defaults filled in).
    """

    name = None
    defaults = {}
    camera = 'sphere'
    camera_defaults = {}
    path_keys = ()

    def __init__(self, params):
        self.params = dict(self.defaults, **params)

    def sample(self, rng):
        """Draw one scene spec (a JSON-serialisable dict) with ``rng``."""
        raise NotImplementedError

    def manifest_info(self):
        """Extra facts for the dataset manifest (JSON-serialisable dict), e.g. data sources."""
        return {}


#: Built-in families: recipe ``family`` value -> ``"module:Class"``.
FAMILIES = {
    'shepard_matzler': 'renderer.shepard_matzler:ShepardMatzler',
    'rooms': 'renderer.rooms:Rooms',
    'mnist_dice': 'renderer.mnist_dice:MnistDice',
    'objects': 'renderer.objects:Objects',
}


def import_object(text, what, search=()):
    """The attribute named by ``"module:attr"`` (``module`` dotted).

    Args:
        text (str): ``"package.module:Name"``.
        what (str): what it is, for error messages.
        search (iterable): folders appended to ``sys.path`` if the module
            is not importable as it is.
    """
    module, sep, attr = text.partition(':')
    if not sep or not module or not attr:
        raise GQNError('%s %r is not "module:attr"' % (what, text))
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module.split('.')[0] or not search:
            raise GQNError('%s %r: cannot import %s (%s)' % (what, text, module, e)) from None
        for folder in search:
            if folder not in sys.path:
                sys.path.append(folder)
        return import_object(text, what)
    except Exception as e:
        raise GQNError('%s %r: importing %s failed: %s: %s'
                       % (what, text, module, type(e).__name__, e)) from None
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise GQNError('%s %r: module %s has no %r' % (what, text, module, attr)) from None


def _entry_points():
    from importlib.metadata import entry_points
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def get_family(name, search=()):
    """The :class:`SceneFamily` subclass named ``name``.

    ``name`` is a built-in name (:data:`FAMILIES`), an entry point of the
    :data:`ENTRY_POINT_GROUP` group, or ``"module:Class"``; ``search`` lists
    extra folders to import user modules from (the recipe's folder).
    """
    if name in FAMILIES:
        cls = import_object(FAMILIES[name], 'scene family')
    elif ':' in name:
        cls = import_object(name, 'scene family', tuple(search) + (os.getcwd(),))
    else:
        eps = _entry_points()
        if name not in eps:
            raise GQNError('unknown scene family %r (known: %s; or "module:Class")'
                           % (name, ', '.join(sorted(set(FAMILIES) | set(eps)))))
        try:
            cls = eps[name].load()
        except Exception as e:
            raise GQNError('scene family %r: loading entry point %s failed: %s'
                           % (name, eps[name].value, e)) from None
    if not (isinstance(cls, type) and issubclass(cls, SceneFamily)):
        raise GQNError('scene family %r is not a renderer.families.SceneFamily subclass' % (name,))
    return cls
