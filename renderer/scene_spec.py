"""What a scene spec must hold for :func:`renderer.draw.build_scene`, checked without OpenGL.

A scene spec is the JSON-able dict a family's ``sample`` returns and a shard's
``scenes/NNNN.json`` stores, one per scene::

    {"background": [r, g, b], "ambient": [r, g, b] or a number,
     "meshes": [{"shape": str, "pose": 4x4, "metallic": number, "roughness": number,
                 "color": [r, g, b] (or "texture": {...}), ...shape keys}],
     "lights": [{"type": "directional", "direction": [x, y, z], "color": [r, g, b],
                 "intensity": number}]}

Shape-specific keys (``extents`` of a box, ...) are checked where the shape is
built. A stored spec is data from disk: a ``file`` mesh it names is loaded only if
the dataset's recipe lists that file (:func:`recipe_mesh_files`), so a spec cannot
make ``gqn gif`` or ``gqn check`` read files the recipe did not declare.
"""
from gqn.errors import GQNError


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _vector(x, n):
    return isinstance(x, (list, tuple)) and len(x) == n and all(_number(v) for v in x)


def _need(d, key, ok, what, where):
    if not isinstance(d, dict) or key not in d:
        raise GQNError('%s: missing %r (%s)' % (where, key, what))
    if not ok(d[key]):
        raise GQNError('%s: %r must be %s, got %r' % (where, key, what, d[key]))


def recipe_mesh_files(manifest):
    """The mesh files a dataset's recipe declares (absolute paths), from its manifest."""
    scene = (manifest or {}).get('recipe', {}).get('scene', {})
    meshes = scene.get('meshes', []) if isinstance(scene, dict) else []
    return frozenset(m for m in meshes if isinstance(m, str)) if isinstance(meshes, list) \
        else frozenset()


def check_scene_spec(spec, where='scene spec', mesh_files=None):
    """Raise :class:`GQNError` naming the first missing or malformed key of ``spec``.

    Args:
        mesh_files (set of str or None): the only paths a ``file`` mesh may name (a stored
            spec: :func:`recipe_mesh_files`); ``None`` allows any (a spec a family built).
    """
    if not isinstance(spec, dict):
        raise GQNError('%s: must be a JSON object, got %s' % (where, type(spec).__name__))
    _need(spec, 'background', lambda x: _vector(x, 3), '3 numbers', where)
    _need(spec, 'ambient', lambda x: _number(x) or _vector(x, 3), 'a number or 3 numbers',
          where)
    _need(spec, 'meshes', lambda x: isinstance(x, list), 'a list', where)
    _need(spec, 'lights', lambda x: isinstance(x, list), 'a list', where)
    for i, mesh in enumerate(spec['meshes']):
        at = '%s, mesh %d' % (where, i)
        _need(mesh, 'shape', lambda x: isinstance(x, str), 'a shape name', at)
        _need(mesh, 'pose', lambda x: isinstance(x, list) and len(x) == 4 and all(
            _vector(row, 4) for row in x), 'a 4x4 matrix', at)
        for key in ('metallic', 'roughness'):
            _need(mesh, key, _number, 'a number', at)
        if mesh.get('texture') is None:
            _need(mesh, 'color', lambda x: _vector(x, 3), '3 numbers (or a texture)', at)
        if mesh['shape'] == 'file' and mesh_files is not None and \
                mesh.get('path') not in mesh_files:
            raise GQNError('%s: mesh file %r is not one of the recipe\'s scene.meshes; '
                           'refusing to load it' % (at, mesh.get('path')))
    for i, light in enumerate(spec['lights']):
        at = '%s, light %d' % (where, i)
        _need(light, 'type', lambda x: isinstance(x, str), 'a light type', at)
        for key in ('direction', 'color'):
            _need(light, key, lambda x: _vector(x, 3), '3 numbers', at)
        _need(light, 'intensity', _number, 'a number', at)
