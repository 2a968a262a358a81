"""gqn.compat: Chainer 7.8.1 on NumPy 1.26 and 2.x, Python 3.10-3.13, with or without
setuptools' pkg_resources."""
import subprocess
import sys

import chainer
import chainer.functions as F
import numpy as np
import pytest

from gqn import compat
from gqn.kernels.adam import Adam
from gqn.model.gqn import GQN
from gqn.model.hyperparams import HyperParameters
from gqn.model.loss import GQNLoss

NUMPY_2 = int(np.__version__.split('.')[0]) >= 2


def test_shims_applied_exactly_where_numpy_lacks_the_names():
    assert ('numpy.sctypes' in compat.applied) == NUMPY_2
    assert ('numpy.infty' in compat.applied) == NUMPY_2
    assert ('chainer._environment_check' in compat.applied) == (
        not compat.environment_check_works())


def test_sctypes_is_numpy_1s_table():
    """The restored table equals NumPy 1.26's own (checked there; used on NumPy 2)."""
    table = compat._sctypes(np)
    assert table['int'] == [np.int8, np.int16, np.int32, np.int64]
    assert table['float'] == [np.float16, np.float32, np.float64, np.longdouble]
    if not NUMPY_2:
        for kind in ('int', 'uint', 'float', 'complex'):
            assert table[kind] == np.sctypes[kind]
    assert np.sctypes['float'] == table['float']


def test_chainer_as_strided_forward_and_backward():
    """Chainer's as_strided reads np.sctypes at import time and in its backward."""
    x = chainer.Variable(np.arange(6, dtype=np.float32))
    y = F.as_strided(x, (2, 3), (3, 1))
    y.grad = np.ones((2, 3), np.float32)
    y.backward()
    np.testing.assert_array_equal(y.array, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(x.grad, np.ones(6))


def test_pyrender_mesh_bounds():
    import pyrender
    import trimesh
    mesh = pyrender.Mesh.from_trimesh(trimesh.creation.box((1, 2, 3)))
    np.testing.assert_allclose(mesh.bounds, [[-0.5, -1, -1.5], [0.5, 1, 1.5]])


def test_float32_training_step_stays_float32():
    """NEP 50 (NumPy 2) promotes float32 arrays combined with NumPy float64 scalars to
    float64: every array of a training step must stay float32 on both stacks."""
    hp = HyperParameters(image_size=16, r_channels=8, h_channels=4, u_channels=4, z_channels=2,
                         generation_steps=2, lstm_kernel_size=5)
    np.random.seed(0)
    loss_fun = GQNLoss(GQN(hp))
    opt = Adam(alpha=np.float64(1e-3))
    opt.setup(loss_fun)
    rng = np.random.RandomState(0)
    x_c = rng.uniform(size=(2, 3, 3, 16, 16)).astype(np.float32)
    v_c = rng.uniform(-1, 1, (2, 3, 7)).astype(np.float32)
    x_q = rng.uniform(size=(2, 3, 16, 16)).astype(np.float32)
    v_q = rng.uniform(-1, 1, (2, 7)).astype(np.float32)
    loss = loss_fun(x_c, v_c, x_q, v_q, sigma=np.float64(0.7))
    assert loss.dtype == np.float32
    loss_fun.cleargrads()
    loss.backward()
    opt.update()
    for name, param in loss_fun.namedparams():
        assert param.dtype == param.grad.dtype == np.float32, name
    for rule in (p.update_rule for p in loss_fun.params()):
        assert all(s.dtype == np.float32 for s in rule.state.values())
    with chainer.no_backprop_mode(), chainer.using_config('train', False):
        assert loss_fun.model.generate(x_c, v_c, v_q).dtype == np.float32


@pytest.mark.slow
def test_chainer_imports_and_trains_without_pkg_resources():
    """Where setuptools' pkg_resources is missing (setuptools >= 81, or none), Chainer's
    environment check is replaced; the rest of Chainer runs as usual."""
    code = ('import sys; sys.modules["pkg_resources"] = None\n'
            'import gqn, chainer, chainer.links as L, numpy as np\n'
            'assert "chainer._environment_check" in gqn.compat.applied, gqn.compat.applied\n'
            'c = L.Convolution2D(3, 4, 3)\n'
            'y = c(np.ones((1, 3, 5, 5), np.float32)); y.grad = np.ones_like(y.array)\n'
            'y.backward(); assert c.W.grad.shape == (4, 3, 3, 3)\n'
            'print("ok")\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == 'ok', done.stderr
