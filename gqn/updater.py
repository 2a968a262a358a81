"""One training step: anneal sigma, compute the negative ELBO, update."""
import math

import chainer
from chainer import training

from gqn.errors import GQNError
from gqn.random_state import latent_noise


def linear_schedule(start, end, steps, iteration):
    """``start`` → ``end`` linearly over ``steps`` iterations, then held."""
    if steps <= 0:
        return end
    t = min(iteration / steps, 1.0)
    return start + (end - start) * t


class NonFiniteLossError(GQNError):
    """The loss became NaN or infinite; parameters were not updated."""


class GQNUpdater(training.updaters.StandardUpdater):
    """A StandardUpdater that feeds the annealed pixel sigma to the loss.

    Both schedules are functions of the iteration only, so they are restored
    exactly on resume (the iteration is part of the snapshot).

    Args:
        iterator: Scenes iterator (batches of ``(x, v)``).
        optimizer: Optimizer whose target is a :class:`gqn.GQNLoss`.
        converter (gqn.ContextQuerySampler): Splits scenes into context/query.
        sigma (tuple): ``(start, end, steps)`` of the pixel sigma schedule.
        lr (tuple): ``(start, end, steps)`` of Adam's ``alpha``.
        device: Chainer device the batch is sent to.
        noise_key (tuple): ints; step ``i`` draws its latent noise from
            :data:`gqn.random_state.latent_noise` keyed by ``noise_key + (i,)``
            (``(seed, rank)`` in ``gqn train``), on every device alike, so that a
            resumed run continues the noise exactly.
    """

    def __init__(self, iterator, optimizer, converter, sigma, lr, device, noise_key=(0, 0)):
        super().__init__(iterator, optimizer, converter=converter, device=device)
        self.sigma_schedule = sigma
        self.lr_schedule = lr
        self.noise_key = tuple(noise_key)

    @property
    def sigma(self):
        return linear_schedule(*self.sigma_schedule, self.iteration)

    def update_core(self):
        optimizer = self._optimizers['main']
        loss_fun = optimizer.target
        batch = self.converter(self._iterators['main'].next(), self.device)
        optimizer.alpha = linear_schedule(*self.lr_schedule, self.iteration)
        sigma = self.sigma
        chainer.report({'sigma': sigma, 'lr': optimizer.alpha})
        latent_noise.set_key(*self.noise_key, self.iteration)
        loss = loss_fun(sigma=sigma, **batch)
        value = float(loss.array)
        if not math.isfinite(value):
            raise NonFiniteLossError(
                'the loss became %s at iteration %d (sigma %.3g, lr %.3g); parameters were '
                'not updated and the last snapshot in the run directory is the last good '
                'state: lower the learning rate or check the data (gqn check)'
                % (value, self.iteration + 1, sigma, optimizer.alpha))
        loss_fun.cleargrads()
        loss.backward()
        optimizer.update()

    def serialize(self, serializer):
        super().serialize(serializer)
        self.converter.serialize(serializer['converter'])
