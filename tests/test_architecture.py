"""The layering rules of docs/architecture.md, checked on the imports of every module."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: layer -> the layers it may import (itself included)
ALLOWED = {
    'base': {'base'},
    'kernels': {'base', 'kernels'},
    'ops': {'base', 'kernels', 'ops'},
    'model': {'base', 'ops', 'model'},
    'data': {'base', 'data'},
    'renderer': {'base', 'data', 'renderer'},
    'training': {'base', 'kernels', 'ops', 'model', 'data', 'training'},
    'evaluation': {'base', 'ops', 'model', 'data', 'renderer', 'training', 'evaluation'},
    'cli': {'base', 'kernels', 'ops', 'model', 'data', 'renderer', 'training', 'evaluation',
            'cli'},
    'testing': {'base', 'kernels', 'ops', 'model', 'data', 'renderer', 'training',
                'testing'},
}
SUBPACKAGES = ('kernels', 'ops', 'model', 'data', 'training', 'evaluation', 'cli', 'testing')


def layer(module):
    """The layer of a dotted module name of the project, or None (not ours)."""
    parts = module.split('.')
    if parts[0] == 'renderer':
        return 'renderer'
    if parts[0] != 'gqn':
        return None
    if len(parts) > 1 and parts[1] in SUBPACKAGES:
        return parts[1]
    return 'base'


def modules():
    for package in ('gqn', 'renderer'):
        for folder, _, names in os.walk(os.path.join(ROOT, package)):
            for name in sorted(names):
                if name.endswith('.py'):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                    yield rel[:-len('.__init__')] if rel.endswith('.__init__') else rel, path


def imports(path):
    """``(module, names)`` of every import statement (function bodies too)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, tuple(a.name for a in node.names)


def edges(module, path):
    """``(imported module, names)`` of the project, submodules imported by name resolved."""
    for target, names in imports(path):
        if layer(target) is None:
            continue
        for name in names or ('',):
            full = '%s.%s' % (target, name)
            if name and os.path.exists(os.path.join(ROOT, *full.split('.')) + '.py'):
                yield full, ()
            else:
                yield target, (name,) if name else ()


MODULES = sorted(modules())


def test_the_layout_is_what_the_rules_speak_of():
    layers = {layer(m) for m, _ in MODULES}
    assert layers == set(ALLOWED)
    assert len(MODULES) > 60


@pytest.mark.parametrize('module,path', MODULES, ids=[m for m, _ in MODULES])
def test_imports_follow_the_layers(module, path):
    if module == 'gqn':
        return  # the package entry: picks the BLAS (gqn.kernels.blas) before NumPy loads
    own = layer(module)
    bad = sorted({target for target, _ in edges(module, path)
                  if layer(target) not in ALLOWED[own]})
    assert not bad, '%s (%s) may not import %s' % (module, own, bad)


@pytest.mark.parametrize('module,path', MODULES, ids=[m for m, _ in MODULES])
def test_no_private_names_across_modules(module, path):
    bad = sorted('%s.%s' % (target, n) for target, names in edges(module, path)
                 for n in names if n.startswith('_') and not n.startswith('__')
                 and target != module)
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    aliases = {a.asname or a.name: '%s.%s' % (node.module, a.name)
               for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
               and layer(node.module) for a in node.names}
    bad += sorted('%s.%s' % (aliases[node.value.id], node.attr) for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in aliases and node.attr.startswith('_')
                  and not node.attr.startswith('__'))
    assert not bad, '%s uses private names of other modules: %s' % (module, bad)


@pytest.mark.parametrize('module,path', MODULES, ids=[m for m, _ in MODULES])
def test_only_the_command_layer_parses_arguments(module, path):
    if layer(module) == 'cli':
        return
    assert 'argparse' not in {target for target, _ in imports(path)}, module


def test_the_model_names_no_kernel_internals():
    """Model code reads like the paper: no tile sizes, caches or formulation switches."""
    for module, path in MODULES:
        if layer(module) != 'model':
            continue
        with open(path) as f:
            text = f.read()
        for word in ('WINOGRAD_TILE', 'TransformCache', 'stock_ops_enabled', 'runs_natively',
                     'applicable'):
            assert word not in text, '%s mentions %s' % (module, word)
