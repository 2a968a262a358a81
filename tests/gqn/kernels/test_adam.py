import chainer
import numpy
import pytest

from gqn.kernels.adam import PARALLEL_GRAIN, Adam


class _Params(chainer.Link):
    def __init__(self, dtype):
        super().__init__()
        rng = numpy.random.RandomState(0)
        with self.init_scope():
            self.a = chainer.Parameter(rng.standard_normal((3, 4, 5)).astype(dtype))
            self.b = chainer.Parameter(rng.standard_normal(7).astype(dtype))
            # (large enough to be split over threads)
            self.c = chainer.Parameter(rng.standard_normal((3, PARALLEL_GRAIN)).astype(dtype))


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('weight_decay_rate', [0.0, 0.01])
def test_updates_are_bit_identical_to_chainers_adam(dtype, weight_decay_rate, threads):
    ours, stock = _Params(dtype), _Params(dtype)
    kwargs = dict(alpha=1e-2, eps=1e-8, weight_decay_rate=weight_decay_rate)
    optimizers = [Adam(**kwargs), chainer.optimizers.Adam(**kwargs)]
    for link, optimizer in zip((ours, stock), optimizers):
        optimizer.setup(link)
    rng = numpy.random.RandomState(1)
    for _ in range(5):
        grads = {name: rng.standard_normal(p.shape).astype(dtype)
                 for name, p in ours.namedparams()}
        for link, optimizer in zip((ours, stock), optimizers):
            for name, p in link.namedparams():
                p.grad = grads[name].copy()
            optimizer.update()
    for (name, p), (_, q) in zip(ours.namedparams(), stock.namedparams()):
        assert not numpy.array_equal(p.array, getattr(_Params(dtype), name[1:]).array)  # moved
        numpy.testing.assert_array_equal(p.array, q.array, err_msg=name)
        for key in ('m', 'v'):
            numpy.testing.assert_array_equal(p.update_rule.state[key], q.update_rule.state[key])
