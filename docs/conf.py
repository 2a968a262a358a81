"""Sphinx configuration of the toolkit's documentation (``make docs``; CI builds it with
warnings as errors, so a broken docstring fails CI). The HTML is a build output
(``docs/_build/``), not committed."""
import os
import sys

sys.path.insert(0, os.path.abspath('..'))
import gqn  # noqa: E402  (the BLAS and Chainer shims, before autodoc imports Chainer)

project = 'GQN toolkit'
release = gqn.__version__
extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'sphinx.ext.viewcode', 'myst_parser']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
exclude_patterns = ['_build']
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'show-inheritance': True}
napoleon_google_docstring = True
napoleon_numpy_docstring = True
myst_heading_anchors = 3
# The Markdown pages link to files outside docs/ (the README, datasets/README.md, the
# benchmarks' results): tests/test_docs_links.py checks every such link instead.
suppress_warnings = ['myst.xref_missing', 'myst.header']
html_theme = 'alabaster'
