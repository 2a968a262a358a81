"""The soft clamp of the prior and posterior log-variances (``hp.logvar_bound``)."""
import json

import numpy
import pytest

from gqn.errors import GQNError
from gqn.model.generator import soft_clamp
from gqn.model.gqn import GQN
from gqn.model.hyperparams import HyperParameters
from gqn.model.loss import GQNLoss


def set_log_variance(model, bias):
    """Both heads output log-variance ``bias`` everywhere (before the clamp)."""
    for head in (model.generator.prior, model.generator.posterior):
        z = head.conv.W.shape[0] // 2
        head.conv.W.array[z:] = 0
        head.conv.b.array[z:] = bias


def loss_and_grads(model, batch):
    loss_fun = GQNLoss(model)
    numpy.random.seed(1)
    with numpy.errstate(all='ignore'):
        loss = loss_fun(*batch, 1.0)
        loss_fun.cleargrads()
        loss.backward()
    return float(loss.array), {name: p.grad for name, p in loss_fun.namedparams()}


def test_soft_clamp_bounds_and_is_the_identity_near_zero():
    x = numpy.array([-1e30, -1e4, -50, -3, 0, 0.5, 3, 50, 1e4, 1e30], 'f')
    y = soft_clamp(x, 20.0).array
    assert y.dtype == numpy.float32 and numpy.all(numpy.abs(y) <= 20)
    assert numpy.all(numpy.diff(y) >= 0) and y[0] == -20 and y[-1] == 20
    numpy.testing.assert_allclose(y[3:7], x[3:7], atol=3 ** 3 / 1200 * 1.01)
    assert soft_clamp(x, 0) is x


def test_heads_are_clamped_and_gradients_stay_finite_where_unbounded_ones_overflow(
        tiny_hp, gqn_batch):
    batch = gqn_batch(B=4)
    numpy.random.seed(0)
    model = GQN(tiny_hp(logvar_bound=0))
    # log-variances of -88: exp(88) = 1.7e38 just fits float32, the loss (d^2 e^88 with
    # small d = mu_q - mu_p) stays finite, its gradient (d e^88) does not
    set_log_variance(model, -88)
    loss, grads = loss_and_grads(model, batch)
    assert numpy.isfinite(loss)
    assert not all(numpy.isfinite(g).all() for g in grads.values())

    clamped = model.copy(mode='copy')
    clamped.generator.prior.logvar_bound = clamped.generator.posterior.logvar_bound = 20.0
    h = numpy.random.RandomState(0).randn(2, 4, 4, 4).astype('f')
    for head in (clamped.generator.prior, clamped.generator.posterior):
        assert numpy.all(numpy.abs(head(h)[1].array) <= 20)
    loss, grads = loss_and_grads(clamped, batch)
    assert numpy.isfinite(loss)
    for name, g in grads.items():
        assert numpy.isfinite(g).all(), name


def test_a_distant_bound_gives_the_unbounded_loss(tiny_hp, gqn_batch):
    batch = gqn_batch(B=3)
    numpy.random.seed(0)
    free = GQN(tiny_hp(logvar_bound=0))
    far = free.copy(mode='copy')
    far.generator.prior.logvar_bound = far.generator.posterior.logvar_bound = 1e4
    (a, ga), (b, gb) = loss_and_grads(free, batch), loss_and_grads(far, batch)
    assert b == pytest.approx(a, rel=1e-6)
    for name in ga:
        numpy.testing.assert_allclose(gb[name], ga[name], rtol=1e-3, atol=1e-5, err_msg=name)
    # and the default bound (20) is on for new models
    assert HyperParameters().logvar_bound == 20 and GQN(tiny_hp()).generator.prior.logvar_bound == 20


@pytest.mark.parametrize('value', [-1, float('inf'), float('nan'), True, '20'])
def test_bad_bounds_are_refused(value):
    with pytest.raises(GQNError, match='logvar_bound'):
        HyperParameters(logvar_bound=value)


def test_files_written_before_the_bound_load_without_it(tmp_path):
    from gqn.training.config import TrainConfig
    old = HyperParameters(image_size=32).to_dict()
    del old['logvar_bound']
    path = str(tmp_path / 'hyperparams.json')
    with open(path, 'w') as f:
        json.dump(old, f)
    assert HyperParameters.from_json(path).logvar_bound == 0
    HyperParameters(image_size=32, logvar_bound=7.5).to_json(path)
    assert HyperParameters.from_json(path).logvar_bound == 7.5
    # a run's config.json likewise, so --resume rebuilds the model it trained
    config = str(tmp_path / 'config.json')
    TrainConfig(dataset='d', model={'image_size': 32}).to_json(config)
    assert TrainConfig.from_json(config).model == {'image_size': 32, 'logvar_bound': 0}
    TrainConfig(dataset='d', model={'logvar_bound': 20.0}).to_json(config)
    assert TrainConfig.from_json(config).model == {'logvar_bound': 20.0}
