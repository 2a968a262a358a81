"""Dataset recipes: TOML files naming a scene family and every parameter.

A recipe has top-level dataset keys (:data:`DATASET_DEFAULTS`), a ``[scene]``
table checked against the family's ``defaults`` and a ``[camera]`` table
checked against the camera sampler's keys (:func:`renderer.camera.camera_keys`).
Unknown keys and bad values raise :class:`~gqn.errors.GQNError`.
:func:`load_recipe` returns the *resolved* recipe: every key present, defaults
filled in; the manifest stores it and two datasets are compatible exactly when
their resolved recipes are equal.

Every number in ``[scene]`` and ``[camera]`` must be finite and within
:data:`MAX_MAGNITUDE`, a ``[scene]`` key whose default is a number takes a number
(or a list), and the counts that size the work have upper bounds
(:data:`MAX_COUNTS`, and each family's own), so a recipe either renders or is one
error line naming the key, before anything is computed.
"""
import os

from gqn.errors import GQNError
from gqn.files import read_toml
from gqn.resources import builtin_folder, parse_override, toml_names
from renderer import camera
from renderer.families import get_family

#: Top-level recipe keys and their defaults.
DATASET_DEFAULTS = {
    'family': 'shepard_matzler',
    'image_size': 64,         # pixels (square images)
    'views': 15,              # views per scene
    'train_scenes': 2000,
    'test_scenes': 200,
    'scenes_per_shard': 100,
    'seed': 0,
    'antialias': False,       # 4x multisampling
    'shadows': False,         # shadow maps for directional lights
    'masks': True,            # instance masks (<split>/masks/, uint8 object ids per pixel)
}

#: Upper bounds of the top-level counts that size every scene's work.
MAX_COUNTS = {
    'image_size': 4096,  # px: GQN models see 32-128 px; one 4096 px view is 50 MB of pixels
    'views': 10000,      # per scene: DeepMind's largest (mazes) has 300; a model conditions on ~20
}

#: Largest magnitude of a number in ``[scene]`` and ``[camera]`` (world units, degrees,
#: counts): a camera 1e6 units from a unit-sized scene sees less than a pixel of it, and
#: float32 viewpoints (``3.4e38`` at most) stay far from overflowing.
MAX_MAGNITUDE = 1e6

#: Where bare recipe names are looked up: the checkout's ``datasets/`` folder, or
#: its copy ``renderer/recipes/`` in an installed wheel.
RECIPE_DIR = builtin_folder('renderer', 'datasets', 'recipes')


def find_recipe(name):
    """Path of a recipe given as a path or as a bare name in :data:`RECIPE_DIR`."""
    if os.path.isfile(name):
        return name
    path = os.path.join(RECIPE_DIR, name if name.endswith('.toml') else name + '.toml')
    if os.path.sep not in name and os.path.isfile(path):
        return path
    known = toml_names(RECIPE_DIR)
    raise GQNError('recipe %r not found (not a file; recipes in %s: %s)'
                   % (name, RECIPE_DIR, ', '.join(known) or 'none'))


def recipe_name(path):
    """The recipe's name: its file name without ``.toml``."""
    return os.path.splitext(os.path.basename(path))[0]


def _unknown_keys(where, table, known):
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise GQNError('unknown recipe key %s (known%s: %s)' % (
            ', '.join(repr(where + k) for k in unknown), where and ' in [%s]' % where[:-1],
            ', '.join(sorted(known))))


def _check_table(where, table, defaults):
    """Fill defaults; reject unknown keys and values whose type differs from the default."""
    _unknown_keys(where, table, defaults)
    out = dict(defaults)
    for key, value in table.items():
        default = defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default)) and not isinstance(value, bool)
        if not ok:
            raise GQNError('%s%s must be %s, got %r' % (where, key, type(default).__name__, value))
        out[key] = value
    return out


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_numbers(where, value):
    """Every number in ``value`` (nested tables and lists) is within +-:data:`MAX_MAGNITUDE`
    (so finite); ``where`` names it (``'camera.max_distance'``)."""
    if isinstance(value, dict):
        for key, v in value.items():
            _check_numbers('%s.%s' % (where, key), v)
    elif isinstance(value, list):
        for v in value:
            _check_numbers(where, v)
    elif _is_number(value) and not abs(value) <= MAX_MAGNITUDE:
        raise GQNError('%s must be a finite number within +-%g, got %r'
                       % (where, MAX_MAGNITUDE, value))


def _check_scene_types(scene_raw, defaults):
    """A ``[scene]`` key whose default is a number takes a number (or a list: ``[min, max]``)."""
    for key, value in scene_raw.items():
        if _is_number(defaults[key]) and not (_is_number(value) or isinstance(value, list)):
            raise GQNError('scene.%s must be a number, got %r' % (key, value))


def _absolute_paths(scene_raw, keys, base_dir):
    """Make the path values of ``keys`` absolute relative to ``base_dir``."""
    out = dict(scene_raw)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str) and value:
            out[key] = os.path.abspath(os.path.join(base_dir, os.path.expanduser(value)))
        elif isinstance(value, list):
            out[key] = [os.path.abspath(os.path.join(base_dir, os.path.expanduser(v)))
                        if isinstance(v, str) else v for v in value]
    return out


def resolve(raw, base_dir=None):
    """Check a raw recipe dict and fill in every default (see module docstring).

    ``base_dir`` (default: the working directory) is where relative paths of
    the family's ``path_keys`` and user family modules are looked up: the
    recipe file's folder.
    """
    base_dir = os.path.abspath(base_dir or os.getcwd())
    raw = dict(raw)
    scene_raw = raw.pop('scene', {})
    camera_raw = raw.pop('camera', {})
    if not isinstance(scene_raw, dict) or not isinstance(camera_raw, dict):
        raise GQNError('recipe: scene and camera must be tables')
    recipe = _check_table('', raw, DATASET_DEFAULTS)
    for key in ('image_size', 'views', 'scenes_per_shard'):
        if recipe[key] <= 0:
            raise GQNError('%s must be positive, got %d' % (key, recipe[key]))
    for key, bound in MAX_COUNTS.items():
        if recipe[key] > bound:
            raise GQNError('%s must be at most %d, got %d' % (key, bound, recipe[key]))
    if recipe['views'] < 2:
        raise GQNError('views must be at least 2 (a context and a query), got %d' % recipe['views'])
    for key in ('train_scenes', 'test_scenes', 'seed'):
        if recipe[key] < 0:
            raise GQNError('%s must be >= 0, got %d' % (key, recipe[key]))
    if recipe['train_scenes'] + recipe['test_scenes'] == 0:
        raise GQNError('train_scenes + test_scenes must be positive')
    family = get_family(recipe['family'], search=(base_dir,))
    _unknown_keys('scene.', scene_raw, family.defaults)
    _check_scene_types(scene_raw, family.defaults)
    _check_numbers('scene', scene_raw)
    _check_numbers('camera', camera_raw)
    recipe['scene'] = family(_absolute_paths(scene_raw, family.path_keys, base_dir)).params
    kind = camera_raw.get('type', family.camera)
    keys = camera.camera_keys(kind)
    keys.update((k, v) for k, v in family.camera_defaults.items() if k in keys)
    recipe['camera'] = _check_table('camera.', camera_raw, keys)
    camera.get_sampler(recipe['camera'])
    camera.intrinsics(recipe['camera'], recipe['image_size'])
    return recipe


def load_recipe(name, overrides=()):
    """Read, override and resolve a recipe.

    Args:
        name (str): a path or a bare name (see :func:`find_recipe`).
        overrides (iterable): ``'key=value'`` strings, nested keys dotted
            (``'scene.cubes=5'``, ``'camera.yfov_deg=40'``).

    Returns:
        tuple: ``(name, recipe)``, the recipe resolved by :func:`resolve`.
    """
    path = find_recipe(name)
    raw = read_toml(path, 'recipe')
    for text in overrides:
        keys, value = parse_override(text)
        table = raw
        for k in keys[:-1]:
            table = table.setdefault(k, {})
            if not isinstance(table, dict):
                raise GQNError('override %r: %s is not a table' % (text, k))
        table[keys[-1]] = value
    return recipe_name(path), resolve(raw, os.path.dirname(os.path.abspath(path)))
