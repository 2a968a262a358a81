"""The built-in recipes and presets: where they are (checkout or installed wheel), and
the TOML reader for them."""
import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib

__all__ = ['builtin_folder', 'toml_names', 'tomllib']


def builtin_folder(module_file, checkout, shipped):
    """The folder of a package's built-in TOML files.

    Args:
        module_file (str): ``__file__`` of a module directly in the package.
        checkout (str): the top-level folder of the checkout that holds them
            (``'datasets'``, ``'train'``): used in a source tree and an editable
            install.
        shipped (str): the folder inside the package that a built wheel holds
            them in (``setup.py`` copies them there).

    Returns:
        str: the shipped folder where it exists (a wheel), else the checkout's.
    """
    package = os.path.dirname(os.path.abspath(module_file))
    inside = os.path.join(package, shipped)
    if os.path.isdir(inside):
        return inside
    return os.path.join(os.path.dirname(package), checkout)


def toml_names(folder):
    """Sorted names (without ``.toml``) of the TOML files in ``folder`` (none if absent)."""
    if not os.path.isdir(folder):
        return []
    return sorted(f[:-5] for f in os.listdir(folder) if f.endswith('.toml'))
