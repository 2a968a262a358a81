import chainer
import numpy
import pytest
from chainer import gradient_check

from gqn.model.gqn import GQN
from gqn.model.hyperparams import HyperParameters
from gqn.model.representation import Attention, Pool, Pyramid, Tower


def _move_away_from_relu_kinks(model):
    """Non-zero biases: with zero biases a dead ReLU feeds exact zeros to the next ReLU."""
    rng = numpy.random.RandomState(42)
    for name, p in model.namedparams():
        if name.endswith('/b'):
            p.array[...] = rng.choice([-1, 1], p.shape) * rng.uniform(0.05, 0.3, p.shape)



@pytest.mark.parametrize('net,shape', [
    (Tower(256), (3, 256, 16, 16)), (Pool(256), (3, 256, 1, 1)),
    (Pyramid(256, image_size=64), (3, 256, 1, 1)),
    (Pyramid(16, image_size=32), (3, 16, 1, 1)), (Tower(16), (3, 16, 8, 8)),
    (Attention(16, image_size=32), (3, 16, 8, 8))])
def test_per_view_shapes(net, shape):
    size = shape[2] * 4 if isinstance(net, (Tower, Attention)) else (64 if shape[1] == 256 else 32)
    x = numpy.random.rand(3, 3, size, size).astype('f')
    v = numpy.random.randn(3, 7).astype('f')
    with chainer.no_backprop_mode():
        assert net(x, v).shape == shape


def test_pool_really_averages_the_tower():
    pool = Pool(8)
    x, v = numpy.random.rand(2, 3, 32, 32).astype('f'), numpy.random.randn(2, 7).astype('f')
    tower_r = pool.tower(x, v).array
    numpy.testing.assert_allclose(pool(x, v).array, tower_r.mean(axis=(2, 3), keepdims=True),
                                  rtol=1e-5, atol=1e-6)
    assert tower_r.std(axis=(2, 3)).max() > 0  # the pool is not a no-op


@pytest.mark.parametrize('rep', ['tower', 'pool', 'pyramid', 'attention'])
def test_scene_representation_is_invariant_to_context_order(rep, tiny_hp, gqn_batch):
    hp = tiny_hp(representation=rep)
    numpy.random.seed(0)  # the weights: not whatever state the tests before left behind
    model = GQN(hp)
    x_c, v_c, _, _ = gqn_batch(B=2, K=4)
    r = model.compute_r(x_c, v_c).array
    assert r.shape == (2, hp.r_channels, hp.r_size, hp.r_size)
    perm = [2, 0, 3, 1]
    numpy.testing.assert_allclose(model.compute_r(x_c[:, perm], v_c[:, perm]).array, r,
                                  rtol=1e-5, atol=1e-6)
    singles = sum(model.compute_r(x_c[:, k:k + 1], v_c[:, k:k + 1]).array for k in range(4))
    if rep == 'attention':  # the views are read together, not added up
        assert numpy.abs(singles - r).max() > 1e-3
    else:
        numpy.testing.assert_allclose(singles, r, rtol=1e-5, atol=1e-5)
    # The viewpoint matters, and so does the image.
    assert numpy.abs(model.compute_r(x_c, v_c[:, ::-1]).array - r).max() > 1e-4
    assert numpy.abs(model.compute_r(x_c[:, ::-1], v_c).array - r).max() > 1e-4


def test_zero_context_views_give_zeros(tiny_hp):
    model = GQN(tiny_hp(representation='pool'))
    r = model.compute_r(numpy.zeros((3, 0, 3, 16, 16), 'f'), numpy.zeros((3, 0, 7), 'f'))
    assert r.shape == (3, 8, 1, 1) and r.dtype == numpy.float32 and not r.array.any()


def test_attention_adds_a_convex_combination_of_all_views_cells_to_their_sum():
    net = Attention(8, image_size=16)
    rng = numpy.random.RandomState(0)
    # equal values everywhere: every softmax-weighted mean is that value
    r = numpy.full((2, 3, 8, 4, 4), 0.5, 'f')
    numpy.testing.assert_allclose(net.combine(r).array, 3 * 0.5 + 0.5, rtol=1e-6)
    # one cell of one view changed: the sum changes at that cell only, the reading everywhere
    r = rng.randn(2, 3, 8, 4, 4).astype('f')
    changed = r.copy()
    changed[:, 1, :, 0, 0] += 5
    diff = numpy.abs(net.combine(changed).array - net.combine(r).array)
    assert (diff[:, :, 1:, 1:] > 1e-4).all()
    # a query that matches one key much better than the others reads that cell's value
    net.queries.array[...] = 0
    net.key.W.array[...] = 0
    net.key.W.array[0, 0] = 1
    net.queries.array[0, :] = 100
    r = numpy.zeros((1, 2, 8, 4, 4), 'f')
    r[0, 1, 0, 2, 3] = 1  # the only cell with a key above 0
    r[0, 1, 1, 2, 3] = 7
    read = net.combine(r).array - r.sum(axis=1)
    numpy.testing.assert_allclose(read[0, 1], 7, rtol=1e-4)


@pytest.mark.parametrize('rep', ['tower', 'pool', 'pyramid', 'attention'])
def test_gradients_float64(rep):
    hp = HyperParameters(image_size=16, representation=rep, r_channels=4)
    with chainer.using_config('dtype', numpy.float64):
        model = GQN(hp)
    _move_away_from_relu_kinks(model)
    rng = numpy.random.RandomState(0)
    x_c, v_c = rng.rand(2, 2, 3, 16, 16), rng.uniform(-1, 1, (2, 2, 7))
    gy = rng.randn(2, 4, hp.r_size, hp.r_size)
    gradient_check.check_backward(model.compute_r, (x_c, v_c), gy,
                                  params=tuple(model.representation.params()),
                                  eps=1e-5, atol=1e-6, rtol=1e-4)


def test_an_unknown_representation_is_an_error_not_a_fallback(tiny_hp):
    from gqn.errors import GQNError
    from gqn.model.representation import make_representation
    hp = tiny_hp()
    object.__setattr__(hp, 'representation', 'pyramids')  # past HyperParameters' check
    with pytest.raises(GQNError, match="unknown representation 'pyramids'"):
        make_representation(hp)
