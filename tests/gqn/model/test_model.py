import chainer
import numpy
import pytest
from chainer import gradient_check

from gqn.model.core import ConvLSTMCore
from gqn.model.gqn import GQN
from gqn.ops import conv_lstm_steps, invariant_gates


def _move_away_from_relu_kinks(model):
    """Non-zero biases: with zero biases a dead ReLU feeds exact zeros to the next ReLU."""
    rng = numpy.random.RandomState(42)
    for name, p in model.namedparams():
        if name.endswith('/b'):
            p.array[...] = rng.choice([-1, 1], p.shape) * rng.uniform(0.05, 0.3, p.shape)



@pytest.mark.parametrize('rep', ['tower', 'pool', 'pyramid', 'attention'])
@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('steps', [1, 3])
def test_shapes(rep, shared, steps, tiny_hp, gqn_batch):
    hp = tiny_hp(representation=rep, shared_core=shared, generation_steps=steps)
    model = GQN(hp)
    assert len(model.generator.generation_cores) == (1 if shared else steps)
    x_c, v_c, x_q, v_q = gqn_batch(B=2, K=3)
    mean, kl = model.reconstruct(x_c, v_c, x_q, v_q)
    assert mean.shape == (2, 3, 16, 16) and mean.dtype == numpy.float32
    assert kl.shape == (2,) and (kl.array >= 0).all()
    with chainer.no_backprop_mode(), chainer.using_config('train', False):
        assert model.generate(x_c, v_c, v_q).shape == (2, 3, 16, 16)
        assert model.generate(x_c[:, :0], v_c[:, :0], v_q).shape == (2, 3, 16, 16)


def test_several_queries_share_one_representation(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    x_c, v_c, x_q, v_q = gqn_batch(B=2, K=3)
    _, _, x_q2, v_q2 = gqn_batch(B=2, K=3, seed=1)
    x_qs, v_qs = numpy.stack([x_q, x_q2], 1), numpy.stack([v_q, v_q2], 1)  # (B, Q = 2, ...)
    with chainer.no_backprop_mode():
        numpy.random.seed(5)
        mean, kl = model.reconstruct(x_c, v_c, x_qs, v_qs)
        numpy.random.seed(5)  # the same as each scene's context repeated for each query
        mean_1, kl_1 = model.reconstruct(numpy.repeat(x_c, 2, 0), numpy.repeat(v_c, 2, 0),
                                         x_qs.reshape((4,) + x_q.shape[1:]), v_qs.reshape(4, 7))
    assert mean.shape == (4, 3, 16, 16) and kl.shape == (4,)
    numpy.testing.assert_allclose(mean.array, mean_1.array, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(kl.array, kl_1.array, rtol=1e-4, atol=1e-6)
    from gqn.model.loss import GQNLoss
    loss = GQNLoss(model)
    numpy.random.seed(5)
    a = loss(x_c, v_c, x_qs, v_qs, 2.0)
    numpy.random.seed(5)
    b = loss(numpy.repeat(x_c, 2, 0), numpy.repeat(v_c, 2, 0),
             x_qs.reshape((4,) + x_q.shape[1:]), v_qs.reshape(4, 7), 2.0)
    numpy.testing.assert_allclose(a.array, b.array, rtol=1e-5)  # per-query means
    _assert_prior_path_takes_several_queries(model, x_c, v_c, x_qs, v_qs)


def _assert_prior_path_takes_several_queries(model, x_c, v_c, x_qs, v_qs):
    """``generate`` and the ``'prior'`` loss with ``(B, Q, 7)`` queries give what
    each query gives alone, the context repeated."""
    from gqn.model.loss import GQNLoss
    B, Q = v_qs.shape[:2]
    flat = (numpy.repeat(x_c, Q, 0), numpy.repeat(v_c, Q, 0),
            x_qs.reshape((B * Q,) + x_qs.shape[2:]), v_qs.reshape(B * Q, 7))
    with chainer.no_backprop_mode():
        numpy.random.seed(5)
        mean = model.generate(x_c, v_c, v_qs)
        numpy.random.seed(5)
        mean_1 = model.generate(flat[0], flat[1], flat[3])
        loss = GQNLoss(model, 'prior')
        numpy.random.seed(5)
        a = loss(x_c, v_c, x_qs, v_qs, 2.0)
        numpy.random.seed(5)
        b = loss(*flat, 2.0)
    assert mean.shape == (B * Q, 3) + x_qs.shape[3:]
    numpy.testing.assert_allclose(mean.array, mean_1.array, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(a.array, b.array, rtol=1e-5)


def test_paper_config_shapes():
    from gqn.model.hyperparams import HyperParameters
    model = GQN(HyperParameters(generation_steps=2))
    x = numpy.random.rand(1, 1, 3, 64, 64).astype('f')
    v = numpy.random.randn(1, 1, 7).astype('f')
    with chainer.no_backprop_mode():
        assert model.compute_r(x, v).shape == (1, 256, 16, 16)
        mean, kl = model.reconstruct(x, v, x[:, 0], v[:, 0])
    assert mean.shape == (1, 3, 64, 64) and kl.shape == (1,)
    W = model.generator.generation_cores[0].W
    assert W.shape == (512, 128 + 3 + 7 + 256, 5, 5)


def test_randomness_comes_from_numpy_random(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    x_c, v_c, x_q, v_q = gqn_batch()
    with chainer.no_backprop_mode():
        numpy.random.seed(3)
        a = model.generate(x_c, v_c, v_q).array
        numpy.random.seed(3)
        b = model.generate(x_c, v_c, v_q).array
        c = model.generate(x_c, v_c, v_q).array
    numpy.testing.assert_array_equal(a, b)
    assert numpy.abs(a - c).max() > 0


def test_position_scale_scales_only_the_positions(tiny_hp, gqn_batch):
    """A model with position_scale s computes what the same parameters compute with
    scale 1 on viewpoints whose x, y, z were multiplied by s."""
    scaled, plain = GQN(tiny_hp(position_scale=0.25)), GQN(tiny_hp())
    plain.copyparams(scaled)
    x_c, v_c, x_q, v_q = gqn_batch()
    factor = numpy.array([0.25] * 3 + [1] * 4, numpy.float32)
    with chainer.no_backprop_mode():
        numpy.random.seed(3)
        a = scaled.reconstruct(x_c, v_c, x_q, v_q)
        numpy.random.seed(3)
        b = plain.reconstruct(x_c, v_c * factor, x_q, v_q * factor)
        numpy.random.seed(3)
        c = plain.reconstruct(x_c, v_c, x_q, v_q)
    numpy.testing.assert_allclose(a[0].array, b[0].array, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(a[1].array, b[1].array, rtol=1e-5, atol=1e-5)
    assert numpy.abs(a[0].array - c[0].array).max() > 1e-4


def _camera(yaw, pitch, distance=6.5):
    """A renderer viewpoint: position on the sphere, looking at the origin."""
    import math

    from renderer.camera import direction
    return numpy.concatenate([distance * direction(yaw, pitch), [
        math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)]]).astype('f')


def test_to_query_frame_puts_the_query_at_yaw_zero_and_keeps_relative_poses():
    from gqn.model.gqn import to_query_frame
    rng = numpy.random.RandomState(0)
    yaws, pitches = rng.uniform(-3, 3, (2, 4)), rng.uniform(-1.2, 1.2, (2, 4))
    v = numpy.stack([[_camera(a, b) for a, b in zip(*row)] for row in zip(yaws, pitches)])
    v_q = v[:, 3]
    out = to_query_frame(v, v_q)
    assert out.shape == v.shape and out.dtype == numpy.float32
    for i in range(2):
        for k in range(4):  # exactly the camera at yaw - yaw_q, same pitch
            numpy.testing.assert_allclose(
                out[i, k], _camera(yaws[i, k] - yaws[i, 3], pitches[i, k]), atol=2e-5)
    numpy.testing.assert_allclose(out[:, 3, [0, 3, 4]], [[0, 1, 0]] * 2, atol=2e-6)
    numpy.testing.assert_allclose(to_query_frame(v_q, v_q), out[:, 3], atol=1e-6)


def test_query_frame_model_ignores_the_absolute_yaw_and_the_world_model_does_not(tiny_hp):
    """Turning the whole world about +y (every camera's yaw + 0.9) changes nothing for a
    query-frame model, but changes the paper's model."""
    rng = numpy.random.RandomState(1)
    yaws, pitches = rng.uniform(-3, 3, (2, 4)), rng.uniform(-1.2, 1.2, (2, 4))
    v, turned = (numpy.stack([[_camera(a + d, b) for a, b in zip(*row)]
                              for row in zip(yaws, pitches)]) for d in (0.0, 0.9))
    x = rng.rand(2, 4, 3, 16, 16).astype('f')
    for frame, same in (('query', True), ('world', False)):
        model = GQN(tiny_hp(viewpoint_frame=frame, position_scale=0.15))
        _move_away_from_relu_kinks(model)
        with chainer.no_backprop_mode(), chainer.using_config('train', False):
            outputs = []
            for vv in (v, turned):
                numpy.random.seed(2)
                outputs.append(model.generate(x[:, :3], vv[:, :3], vv[:, 3]).array)
                numpy.random.seed(2)
                outputs.append(model.reconstruct(x[:, :3], vv[:, :3], x[:, 3], vv[:, 3])[0].array)
        gap = max(numpy.abs(a - b).max() for a, b in zip(outputs[:2], outputs[2:]))
        assert (gap < 1e-5) if same else (gap > 1e-4), (frame, gap)


def test_query_frame_with_several_queries_equals_one_query_at_a_time(tiny_hp, gqn_batch):
    """In the query frame ``r`` differs per query: Q queries of a scene give what each
    query gives alone, the context repeated."""
    model = GQN(tiny_hp(viewpoint_frame='query'))
    x_c, v_c, x_q, v_q = gqn_batch(B=2, K=3)
    _, _, x_q2, v_q2 = gqn_batch(B=2, K=3, seed=1)
    x_qs, v_qs = numpy.stack([x_q, x_q2], 1), numpy.stack([v_q, v_q2], 1)
    with chainer.no_backprop_mode():
        numpy.random.seed(5)
        mean, kl = model.reconstruct(x_c, v_c, x_qs, v_qs)
        numpy.random.seed(5)
        mean_1, kl_1 = model.reconstruct(numpy.repeat(x_c, 2, 0), numpy.repeat(v_c, 2, 0),
                                         x_qs.reshape((4,) + x_q.shape[1:]), v_qs.reshape(4, 7))
    numpy.testing.assert_allclose(mean.array, mean_1.array, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(kl.array, kl_1.array, rtol=1e-4, atol=1e-6)
    _assert_prior_path_takes_several_queries(model, x_c, v_c, x_qs, v_qs)


def test_context_changes_the_output(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    x_c, v_c, x_q, v_q = gqn_batch()
    with chainer.no_backprop_mode():
        numpy.random.seed(0)
        a = model.generate(x_c, v_c, v_q).array
        numpy.random.seed(0)
        b = model.generate(x_c[:, :1], v_c[:, :1], v_q).array
    assert numpy.abs(a - b).max() > 1e-5


def _outputs_and_grads(model, batch, seed=0):
    numpy.random.seed(seed)
    model.cleargrads()
    mean, kl = model.reconstruct(*batch)
    loss = chainer.functions.sum(mean * mean) + chainer.functions.sum(kl)
    loss.backward()
    return mean.array, kl.array, {name: p.grad.copy() for name, p in model.namedparams()}


@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('rep', ['tower', 'pyramid'])
def test_hoisting_equals_the_concatenation_formulation(shared, rep, tiny_hp, gqn_batch):
    with chainer.using_config('dtype', numpy.float64):
        model = GQN(tiny_hp(shared_core=shared, representation=rep, generation_steps=4))
    batch = gqn_batch(dtype=numpy.float64)
    assert model.hoist
    hoisted = _outputs_and_grads(model, batch)
    model.hoist = False
    plain = _outputs_and_grads(model, batch)
    numpy.testing.assert_allclose(hoisted[0], plain[0], rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(hoisted[1], plain[1], rtol=1e-10, atol=1e-12)
    assert hoisted[2].keys() == plain[2].keys()
    for name in plain[2]:
        numpy.testing.assert_allclose(hoisted[2][name], plain[2][name], rtol=1e-8, atol=1e-10,
                                      err_msg=name)
        assert numpy.isfinite(plain[2][name]).all()
    # Every parameter takes part (no dead weights), except the weights of the
    # first unshared inference core over [h_e, h_g, downsampled u]: all three
    # are zero at step 0 (the downsampler's bias starts at zero).
    idle = set() if shared else {'/generator/inference_cores/0/W_variant'}
    assert {n for n, g in plain[2].items() if not numpy.abs(g).max() > 0} == idle


def test_invariant_gates_batch_all_steps_into_one_convolution():
    rng = numpy.random.RandomState(0)
    cores = [ConvLSTMCore(2, 5, 3, 3) for _ in range(4)]
    inv = rng.randn(2, 5, 6, 6).astype('f')
    gates = invariant_gates(cores, inv)
    assert len(gates) == 4
    for core, g in zip(cores, gates):
        expected = chainer.functions.convolution_2d(inv, core.W_invariant, core.b, pad=1)
        numpy.testing.assert_allclose(g.array, expected.array, rtol=1e-5, atol=2e-5)
    h, c, x = (rng.randn(2, k, 6, 6).astype('f') for k in (3, 3, 2))
    # one core: its step adds the hoisted gates; four unshared cores on NumPy: the
    # steps share the invariant input's Winograd transform. Both equal the plain step.
    steps = ([conv_lstm_steps([core], inv, 1)[0] for core in cores]
             + conv_lstm_steps(cores, inv, len(cores)))
    for core, step in zip(cores + cores, steps):
        for a, b in zip(step(h, c, (x,)), core(h, c, x, inv)):
            numpy.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('hoist', [True, False])
@pytest.mark.parametrize('shared', [False, True])
def test_gradient_check_float64(hoist, shared, tiny_hp, gqn_batch):
    hp = tiny_hp(shared_core=shared, generation_steps=2, r_channels=4, h_channels=2,
                 u_channels=2)
    with chainer.using_config('dtype', numpy.float64):
        model = GQN(hp, hoist=hoist)
    _move_away_from_relu_kinks(model)
    batch = gqn_batch(B=2, K=2, dtype=numpy.float64)
    rng = numpy.random.RandomState(1)

    def f(x_c, v_c, x_q, v_q):
        numpy.random.seed(0)  # the same noise in every evaluation
        return model.reconstruct(x_c, v_c, x_q, v_q)

    gradient_check.check_backward(f, batch, (rng.randn(2, 3, 16, 16), rng.randn(2)),
                                  params=tuple(model.params()),
                                  eps=1e-5, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('rep', ['tower', 'pool', 'pyramid', 'attention'])
def test_fast_ops_equal_the_stock_chainer_formulation(rep, tiny_hp, gqn_batch):
    from gqn.ops.stock_ops import stock_ops
    with chainer.using_config('dtype', numpy.float64):
        model = GQN(tiny_hp(representation=rep, generation_steps=3))
    batch = gqn_batch(dtype=numpy.float64)
    fast = _outputs_and_grads(model, batch)
    model.hoist = False
    with stock_ops():
        stock = _outputs_and_grads(model, batch)
    numpy.testing.assert_allclose(fast[0], stock[0], rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(fast[1], stock[1], rtol=1e-10, atol=1e-12)
    for name in stock[2]:
        numpy.testing.assert_allclose(fast[2][name], stock[2][name], rtol=1e-8, atol=1e-10,
                                      err_msg=name)


def test_stock_ops_really_run_chainer_functions(tiny_hp, gqn_batch):
    from chainer.function_hooks import TimerHook

    from gqn.ops.stock_ops import stock_ops
    model = GQN(tiny_hp(generation_steps=2))
    batch = gqn_batch()

    def names():
        hook = TimerHook()
        with hook:
            model.reconstruct(*batch)
        return {name for name, _ in hook.call_history}
    fast = names()
    with stock_ops():
        stock = names()
    ours = {'WinogradConvolution2D', 'ConcatConvolution2D', 'PatchConvolution2D',
            'ConvLSTMCell'}
    assert ours <= fast
    assert not {'Convolution2DFunction', 'Deconvolution2DFunction', 'LSTM'} & fast
    assert {'Convolution2DFunction', 'Deconvolution2DFunction', 'LSTM'} <= stock
    assert not (ours | {'Convolution2D'}) & stock


def test_training_follows_the_stock_formulations_loss_curve(tiny_hp, gqn_batch):
    """Float32 Adam steps from the same initial parameters and latent noise: the optimised
    formulation (hoisting, Winograd, patch canvas, fused kernels) and Chainer's stock
    functions give the same loss curve to float32 tolerance."""
    from gqn.model.loss import GQNLoss
    from gqn.ops.stock_ops import stock_ops
    batch = gqn_batch(B=4, K=3)
    curves = []
    for stock in (False, True):
        numpy.random.seed(0)
        loss_fun = GQNLoss(GQN(tiny_hp(lstm_kernel_size=5), hoist=not stock))
        optimizer = chainer.optimizers.Adam(alpha=3e-3)
        optimizer.setup(loss_fun)
        curve = []
        for step in range(8):
            numpy.random.seed(100 + step)
            with stock_ops(stock):
                loss = loss_fun(*batch, 1.0)
                loss_fun.cleargrads()
                loss.backward()
            optimizer.update()
            curve.append(float(loss.array))
        curves.append(curve)
    optimised, stock = curves
    assert optimised[-1] < 0.97 * optimised[0]  # it trains (NLL with sigma 1: a large constant)
    numpy.testing.assert_allclose(optimised, stock, rtol=1e-4)
