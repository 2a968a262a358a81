"""Scene specs: the builders every family uses, and the validator every spec passes.

A scene spec is the JSON-able dict a family's ``sample`` returns and a shard's
``scenes/NNNN.json`` stores, one per scene (:mod:`renderer.families` shows one)::

    {"family": str, "background": [r, g, b], "ambient": [r, g, b] or a number,
     "meshes": [{"shape": str, "pose": 4x4, "metallic": number, "roughness": number,
                 "color": [r, g, b] (or "texture": {...}), ...shape keys}],
     "lights": [{"type": "directional", "direction": [x, y, z], "color": [r, g, b],
                 "intensity": number}],
     "room": {"size": [sx, sz], "height": h, "footprints": [[x, z, r], ...]}  (optional)}

Build the entries with :func:`mesh`, :func:`directional_light`, :func:`room` and
:func:`scene` (plain dicts, floats, nested lists); :func:`validate_spec` turns a
missing or malformed key of any spec (a user family's too) into one
:class:`~gqn.errors.GQNError` line naming the family, the entry and the key. The
scene sampler validates each spec a family returns, before anything is drawn.

Objects and background (the instance masks, :func:`object_ids`): a mesh's optional
``object`` key names the object it belongs to, ``1..255``, or ``0`` for the
background (floor, walls, anything that is not an object of the scene). A mesh
without the key is background when it is a ``quad`` and otherwise an object of
its own, numbered in order after the largest explicit id: a custom family gets
masks without writing code for them, and says ``object=...`` only to group meshes
into one object (as Shepard-Matzler does with its cubes) or to mark a solid as
background.

A stored spec is data from disk: a ``file`` mesh it names is loaded only if the
dataset's recipe lists that file (:func:`recipe_mesh_files`), so a spec cannot make
``gqn gif`` or ``gqn check`` read files the recipe did not declare.
"""
import numpy as np

from gqn.errors import GQNError

#: The unit-sized trimesh primitives (:func:`renderer.draw.primitive`).
PRIMITIVES = ('sphere', 'cylinder', 'capsule', 'cone', 'icosahedron')

#: Mesh shapes and the keys each needs besides ``pose`` and the material
#: (:data:`renderer.draw.SHAPES` builds them): primitives are unit-sized and
#: scaled by ``extents``; ``file`` is a mesh file drawn with its pose only.
SHAPE_KEYS = {'file': ('path',),
              **{shape: ('extents',) for shape in ('box', 'quad') + PRIMITIVES}}


#: Shapes with texture coordinates (a ``texture`` instead of a ``color``).
TEXTURED = ('box', 'quad')

#: Largest object id: masks are uint8 and 0 is the background.
MAX_OBJECTS = 255


def _floats(values):
    return [float(v) for v in values]


def mesh(shape, pose, color=None, texture=None, metallic=0.0, roughness=1.0, **keys):
    """A mesh entry.

    Args:
        shape (str): a :data:`SHAPE_KEYS` name.
        pose: model-to-world matrix, ``(4, 4)``, any nested sequence or array.
        color: ``[r, g, b]`` in 0..1, unless ``texture`` is given.
        texture (dict or None): a procedural texture (:mod:`renderer.textures`).
        metallic, roughness (float): the PBR material.
        **keys: the shape's keys (``extents=[sx, sy, sz]`` world units, or
            ``path=`` a mesh file) and optional ones (``uv_repeat=[u, v]``,
            ``object=i``, ``appearance='file'``: a mesh file drawn with its own colours
            and textures, ``color`` where it has none), kept as given (vectors as floats).

    Returns:
        dict: the entry; :func:`validate_spec` checks it in its spec.
    """
    entry = {'shape': shape}
    for key, value in keys.items():
        entry[key] = _floats(value) if key in ('extents', 'uv_repeat') else value
    entry['pose'] = np.asarray(pose, dtype=np.float64).tolist()
    if texture is None:
        entry['color'] = _floats(color)
    else:
        entry['texture'] = texture
    entry['metallic'] = float(metallic)
    entry['roughness'] = float(roughness)
    return entry


def directional_light(direction, intensity, color=(1.0, 1.0, 1.0)):
    """A directional light entry: ``direction`` the light travels (world), ``intensity``,
    ``color`` ``[r, g, b]``."""
    return {'type': 'directional', 'direction': _floats(direction), 'color': _floats(color),
            'intensity': float(intensity)}


def room(size, height, footprints=()):
    """The ``room`` entry the ``free`` camera keeps inside: floor ``size`` ``[sx, sz]``,
    wall ``height``, object ``footprints`` ``[[x, z, radius], ...]`` to stay out of."""
    return {'size': _floats(size), 'height': float(height),
            'footprints': [_floats(f) for f in footprints]}


def scene(family, background, ambient, meshes, lights, room=None):
    """A scene spec: ``family`` name, ``background`` ``[r, g, b]``, ``ambient`` (a number or
    ``[r, g, b]``), lists of :func:`mesh` and :func:`directional_light` entries, and an
    optional :func:`room`."""
    spec = {'family': family, 'background': _floats(background),
            'ambient': float(ambient) if np.ndim(ambient) == 0 else _floats(ambient),
            'meshes': list(meshes), 'lights': list(lights)}
    if room is not None:
        spec['room'] = room
    return spec


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _vector(x, n):
    return isinstance(x, (list, tuple)) and len(x) == n and all(map(_number, x))


def _vector2(x):
    return _vector(x, 2)


def _vector3(x):
    return _vector(x, 3)


def _matrix4(x):
    return isinstance(x, list) and len(x) == 4 and all(_vector(row, 4) for row in x)


def _string(x):
    return isinstance(x, str)


def _shape(x):
    return isinstance(x, str) and x in SHAPE_KEYS


def _object_id(x):
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_OBJECTS


def _texture(x):
    return isinstance(x, dict) and isinstance(x.get('kind'), str)


def _footprints(x):
    return isinstance(x, list) and all(_vector(f, 3) for f in x)


def _at(where, entry):
    """``where`` followed by the entry: ``('mesh', 3)`` -> ``'..., mesh 3'``."""
    return where if entry is None else '%s, %s %d' % ((where,) + entry) \
        if isinstance(entry, tuple) else '%s, %s' % (where, entry)


def _need(d, key, ok, what, where, entry=None):
    """Check ``d[key]`` with ``ok``; the error (formatted only then) names ``where`` and
    ``entry``."""
    if isinstance(d, dict) and key in d and ok(d[key]):
        return
    if not isinstance(d, dict) or key not in d:
        raise GQNError('%s: missing %r (%s)' % (_at(where, entry), key, what))
    raise GQNError('%s: %r must be %s, got %r' % (_at(where, entry), key, what, d[key]))


def object_ids(spec):
    """The object id of each mesh of a (valid) spec: a list of ints, 0 for the background.

    A mesh's ``object`` key when it has one; otherwise 0 for a ``quad`` and, for every
    other shape, the next id after the largest explicit one, in mesh order.

    Raises:
        GQNError: when the ids run past :data:`MAX_OBJECTS`.
    """
    meshes = spec['meshes']
    explicit = [m['object'] for m in meshes if 'object' in m]
    ids, next_id = [], max(explicit, default=0) + 1
    for m in meshes:
        if 'object' in m:
            ids.append(m['object'])
        elif m['shape'] == 'quad':
            ids.append(0)
        else:
            ids.append(next_id)
            next_id += 1
    if ids and max(ids) > MAX_OBJECTS:
        raise GQNError('scene family %r: %d objects, masks hold at most %d (group meshes into '
                       'objects with the mesh key "object", or set masks = false)'
                       % (spec.get('family'), max(ids), MAX_OBJECTS))
    return ids


def without_objects(spec):
    """A copy of ``spec`` with only its background meshes (object id 0): the empty scene."""
    keep = [m for m, i in zip(spec['meshes'], object_ids(spec)) if i == 0]
    return dict(spec, meshes=keep)


def recipe_mesh_files(manifest):
    """The mesh files a dataset's recipe declares (absolute paths), from its manifest."""
    scene = (manifest or {}).get('recipe', {}).get('scene', {})
    meshes = scene.get('meshes', []) if isinstance(scene, dict) else []
    return frozenset(m for m in meshes if isinstance(m, str)) if isinstance(meshes, list) \
        else frozenset()


def validate_spec(spec, family=None, where=None, mesh_files=None):
    """Raise :class:`GQNError` naming the first missing or malformed key of ``spec``.

    Args:
        family (str or None): the family that built it, named in the error (default:
            the spec's own ``family``).
        where (str or None): what the spec is (a file), named first in the error.
        mesh_files (set of str or None): the only paths a ``file`` mesh may name (a stored
            spec: :func:`recipe_mesh_files`); ``None`` allows any (a spec a family built).
    """
    if family is None and isinstance(spec, dict) and isinstance(spec.get('family'), str):
        family = spec['family']
    named = ['scene family %r' % family] if family else []
    where = ', '.join(([where] if where else []) + named) or 'scene spec'
    if not isinstance(spec, dict):
        raise GQNError('%s: must be a JSON object, got %s' % (where, type(spec).__name__))
    _need(spec, 'background', _vector3, '3 numbers', where)
    _need(spec, 'ambient', lambda x: _number(x) or _vector3(x), 'a number or 3 numbers', where)
    _need(spec, 'meshes', lambda x: isinstance(x, list), 'a list', where)
    _need(spec, 'lights', lambda x: isinstance(x, list), 'a list', where)
    for i, mesh in enumerate(spec['meshes']):
        at = ('mesh', i)
        _need(mesh, 'shape', _shape, 'a shape name (%s)' % ', '.join(sorted(SHAPE_KEYS)), where, at)
        shape = mesh['shape']
        for key in SHAPE_KEYS[shape]:
            if key == 'path':
                _need(mesh, key, _string, 'a mesh file path', where, at)
            else:
                _need(mesh, key, _vector3, '3 numbers', where, at)
        _need(mesh, 'pose', _matrix4, 'a 4x4 matrix', where, at)
        _need(mesh, 'metallic', _number, 'a number', where, at)
        _need(mesh, 'roughness', _number, 'a number', where, at)
        if mesh.get('texture') is None:
            _need(mesh, 'color', _vector3, '3 numbers (or a texture)', where, at)
        else:
            _need(mesh, 'texture', _texture, 'a texture table with a "kind"', where, at)
            if shape not in TEXTURED:
                raise GQNError('%s: a %s cannot carry a texture (only %s)'
                               % (_at(where, at), shape, ', '.join(TEXTURED)))
        if 'appearance' in mesh:
            _need(mesh, 'appearance', lambda x: x == 'file',
                  "'file' (the mesh file's own colours and textures)", where, at)
            if shape != 'file':
                raise GQNError("%s: only a file mesh has an appearance = 'file'"
                               % _at(where, at))
        if 'uv_repeat' in mesh:
            _need(mesh, 'uv_repeat', _vector2, '2 numbers', where, at)
        if 'object' in mesh:
            _need(mesh, 'object', _object_id, 'an int in 0..%d (0: background)' % MAX_OBJECTS,
                  where, at)
        if shape == 'file' and mesh_files is not None and mesh['path'] not in mesh_files:
            raise GQNError('%s: mesh file %r is not one of the recipe\'s scene.meshes; '
                           'refusing to load it' % (_at(where, at), mesh['path']))
    for i, light in enumerate(spec['lights']):
        at = ('light', i)
        _need(light, 'type', lambda x: x == 'directional', "'directional'", where, at)
        _need(light, 'direction', _vector3, '3 numbers', where, at)
        _need(light, 'color', _vector3, '3 numbers', where, at)
        _need(light, 'intensity', _number, 'a number', where, at)
    if 'room' in spec:
        _need(spec, 'room', lambda x: isinstance(x, dict), 'a table', where)
        room = spec['room']
        _need(room, 'size', _vector2, '2 numbers', where, 'room')
        _need(room, 'height', _number, 'a number', where, 'room')
        if 'footprints' in room:
            _need(room, 'footprints', _footprints, 'a list of [x, z, radius]', where, 'room')
