import math

import chainer
import numpy
import pytest

from gqn.model.gqn import GQN
from gqn.model.loss import GQNLoss


def _run(loss_fn, batch, sigma):
    reporter = chainer.Reporter()
    reporter.add_observer('main', loss_fn)
    observer = {}
    with reporter.scope(observer):
        loss = loss_fn(*batch, sigma)
    return loss, {k: float(getattr(v, 'array', v)) for k, v in observer.items()}


def test_loss_parts_match_closed_forms(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    loss_fn = GQNLoss(model)
    x_c, v_c, x_q, v_q = gqn_batch(B=3)
    sigma = 0.7
    numpy.random.seed(0)
    loss, observer = _run(loss_fn, (x_c, v_c, x_q, v_q), sigma)
    numpy.random.seed(0)
    mean, kl = model.reconstruct(x_c, v_c, x_q, v_q)
    mean, kl = mean.array.astype(numpy.float64), kl.array.astype(numpy.float64)
    nll = (0.5 * math.log(2 * math.pi * sigma ** 2) * x_q[0].size
           + ((x_q - mean) ** 2).sum(axis=(1, 2, 3)) / (2 * sigma ** 2))
    expected = {'nll': nll.mean(), 'kl': kl.mean(), 'loss': (nll + kl).mean(),
                'mse': ((x_q - mean) ** 2).mean(),
                'bpp': (nll + kl).mean() / (math.log(2) * 16 * 16)}
    assert loss.shape == () and float(loss.array) == pytest.approx(expected['loss'], rel=1e-5)
    for key, value in expected.items():
        assert float(observer['main/' + key]) == pytest.approx(value, rel=1e-5), key


def test_sigma_is_an_input(tiny_hp, gqn_batch):
    loss_fn = GQNLoss(GQN(tiny_hp()))
    batch = gqn_batch()
    losses = []
    for sigma in (2.0, 0.7):
        numpy.random.seed(0)
        losses.append(float(loss_fn(*batch, sigma).array))
    assert losses[0] != losses[1]


def test_kl_is_exactly_zero_when_posterior_equals_prior(tiny_hp, gqn_batch):
    model = GQN(tiny_hp(generation_steps=4))
    for head in (model.generator.prior, model.generator.posterior):
        head.conv.W.array[...] = 0
        head.conv.b.array[...] = numpy.linspace(-1, 1, head.conv.b.size)
    mean, kl = model.reconstruct(*gqn_batch())
    assert kl.array.dtype == numpy.float32 and (kl.array == 0).all()
    model.generator.posterior.conv.b.array[0] += 0.1
    assert (model.reconstruct(*gqn_batch())[1].array > 0).all()


def test_kl_and_loss_gradients_reach_the_posterior_and_prior(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    loss = GQNLoss(model)(*gqn_batch(), 1.0)
    model.cleargrads()
    loss.backward()
    for link in (model.generator.prior, model.generator.posterior, model.representation):
        assert all(numpy.abs(p.grad).max() > 0 for p in link.params())


@pytest.mark.slow
def test_overfits_a_tiny_batch(tiny_hp, gqn_batch):
    numpy.random.seed(0)
    model = GQN(tiny_hp(r_channels=16, h_channels=8, u_channels=8, generation_steps=2))
    loss_fn = GQNLoss(model)
    optimizer = chainer.optimizers.Adam(alpha=5e-3)
    optimizer.setup(loss_fn)
    batch = gqn_batch(B=4, K=2, seed=1)
    history = []
    for _ in range(300):
        loss, observer = _run(loss_fn, batch, 0.2)
        loss_fn.cleargrads()
        loss.backward()
        optimizer.update()
        history.append(observer)
    first, last = history[0], history[-1]
    # At sigma 0.2 a 16x16x3 image costs 768 * (ln(0.2 sqrt(2 pi)) + mse / 0.08) nats.
    assert first['main/loss'] > 1500
    assert last['main/loss'] < first['main/loss'] - 1500
    assert last['main/mse'] < 0.3 * first['main/mse']
    assert all(numpy.isfinite(h['main/loss']) for h in history)


def test_prior_objective_is_the_nll_of_the_prior_sample(tiny_hp, gqn_batch):
    model = GQN(tiny_hp(generation_steps=3))
    loss_fn = GQNLoss(model, 'prior')
    x_c, v_c, x_q, v_q = gqn_batch(B=3)
    sigma = 2.0
    numpy.random.seed(0)
    loss, observer = _run(loss_fn, (x_c, v_c, x_q, v_q), sigma)
    numpy.random.seed(0)
    mean = model.generate(x_c, v_c, v_q).array.astype(numpy.float64)
    nll = (0.5 * math.log(2 * math.pi * sigma ** 2) * x_q[0].size
           + ((x_q - mean) ** 2).sum(axis=(1, 2, 3)) / (2 * sigma ** 2))
    assert float(loss.array) == pytest.approx(nll.mean(), rel=1e-5)
    assert observer['main/nll'] == pytest.approx(nll.mean(), rel=1e-5)
    assert observer['main/mse'] == pytest.approx(((x_q - mean) ** 2).mean(), rel=1e-5)
    assert 'main/kl' not in observer


def test_prior_objective_trains_the_generation_path_only(tiny_hp, gqn_batch):
    model = GQN(tiny_hp())
    loss = GQNLoss(model, 'prior')(*gqn_batch(), 2.0)
    model.cleargrads()
    loss.backward()
    generator = model.generator
    for link in (model.representation, generator.prior, generator.generation_cores,
                 generator.write, generator.observation):
        assert all(numpy.abs(p.grad).max() > 0 for p in link.params())
    for link in (generator.posterior, generator.inference_cores, generator.downsample_x,
                 generator.downsample_u):
        assert all(p.grad is None for p in link.params())


def test_unknown_objective_is_refused(tiny_hp):
    from gqn.errors import GQNError
    with pytest.raises(GQNError, match="'elbo', 'prior'|elbo, prior"):
        GQNLoss(GQN(tiny_hp()), 'map')
