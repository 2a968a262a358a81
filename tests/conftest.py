import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

# isort: split
import numpy
import pytest


@pytest.fixture
def tiny_hp():
    """Factory of small GQN hyperparameters (16x16 images) for fast CPU tests."""
    from gqn.model.hyperparams import HyperParameters

    def make(**kw):
        d = dict(image_size=16, r_channels=8, h_channels=4, u_channels=4, z_channels=2,
                 generation_steps=3, lstm_kernel_size=3)
        d.update(kw)
        return HyperParameters(**d)
    return make


@pytest.fixture
def gqn_batch():
    """Factory of a random GQN batch ``(x_c, v_c, x_q, v_q)``."""
    def make(B=2, K=3, size=16, dtype=numpy.float32, seed=0):
        rng = numpy.random.RandomState(seed)
        return (rng.uniform(0, 1, (B, K, 3, size, size)).astype(dtype),
                rng.uniform(-1, 1, (B, K, 7)).astype(dtype),
                rng.uniform(0, 1, (B, 3, size, size)).astype(dtype),
                rng.uniform(-1, 1, (B, 7)).astype(dtype))
    return make


@pytest.fixture
def cupy():
    """The ``cupy`` module; skips the test without CuPy or without a CUDA device."""
    cupy = pytest.importorskip('cupy')
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip('no CUDA device')
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip('no CUDA device')
    return cupy
