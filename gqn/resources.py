"""The built-in recipes and presets: where they are (checkout or installed wheel), the
TOML parser for them (files are read with :func:`gqn.files.read_toml`), and the
``--set KEY=VALUE`` parser of both."""
import os

from gqn.errors import GQNError
from gqn.files import MAX_DEPTH, check_depth, tomllib

__all__ = ['builtin_folder', 'parse_override', 'toml_names', 'tomllib']


def builtin_folder(package, checkout, shipped):
    """The folder of a package's built-in TOML files.

    Args:
        package (str): ``'gqn'`` or ``'renderer'`` (installed side by side).
        checkout (str): the top-level folder of the checkout that holds them
            (``'datasets'``, ``'train'``): used in a source tree and an editable
            install.
        shipped (str): the folder inside the package that a built wheel holds
            them in (``setup.py`` copies them there).

    Returns:
        str: the shipped folder where it exists (a wheel), else the checkout's.
    """
    packages = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inside = os.path.join(packages, package, shipped)
    if os.path.isdir(inside):
        return inside
    return os.path.join(packages, checkout)


def toml_names(folder):
    """Sorted names (without ``.toml``) of the TOML files in ``folder`` (none if absent)."""
    if not os.path.isdir(folder):
        return []
    return sorted(f[:-5] for f in os.listdir(folder) if f.endswith('.toml'))


def parse_override(text):
    """``--set`` of recipes and presets: ``'scene.cubes=5'`` -> ``(('scene', 'cubes'), 5)``;
    values are TOML (bare words are strings)."""
    key, sep, value = text.partition('=')
    key = key.strip()
    if not sep or not key:
        raise GQNError('override %r is not KEY=VALUE' % (text,))
    try:
        value = tomllib.loads('v = ' + value)['v']
    except tomllib.TOMLDecodeError:
        value = value.strip()
    except RecursionError:
        raise GQNError('override %r: nested more than %d levels deep'
                       % (key, MAX_DEPTH)) from None
    check_depth(value, 'override %r' % key)
    return tuple(key.split('.')), value
