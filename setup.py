"""Build hook: ship the built-in recipes and presets inside the packages.

The recipes live in the checkout's top-level ``datasets/`` and the training
presets in ``train/`` (the source of truth; neither folder is a package). A
wheel has no checkout beside it, so ``build_py`` copies them to
``renderer/recipes/`` and ``gqn/presets/`` inside the built packages, where
:func:`gqn.resources.builtin_folder` finds them after a non-editable install.
Everything else is declared in setup.cfg.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

#: checkout folder -> folder inside the built packages
SHIPPED = {'datasets': os.path.join('renderer', 'recipes'),
           'train': os.path.join('gqn', 'presets')}


class BuildPyWithBuiltins(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        for source, target in SHIPPED.items():
            out = os.path.join(self.build_lib, target)
            self.mkpath(out)
            for path in sorted(glob.glob(os.path.join(source, '*.toml'))):
                self.copy_file(path, os.path.join(out, os.path.basename(path)))


setup(cmdclass={'build_py': BuildPyWithBuiltins})
