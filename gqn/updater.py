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
        finite_check_interval (int): check that the loss is finite every this many
            steps (1: before every update, the default). Reading the loss waits for
            the device, so on CUDA ``gqn train`` checks at log intervals only.
    """

    def __init__(self, iterator, optimizer, converter, sigma, lr, device, noise_key=(0, 0),
                 finite_check_interval=1):
        super().__init__(iterator, optimizer, converter=converter, device=device)
        self.sigma_schedule = sigma
        self.lr_schedule = lr
        self.noise_key = tuple(noise_key)
        self.finite_check_interval = finite_check_interval

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
        if (self.iteration + 1) % self.finite_check_interval == 0:
            value = float(loss.array)
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    'the loss became %s at iteration %d (sigma %.3g, lr %.3g)%s; the last '
                    'snapshot in the run directory is the last good state: lower the '
                    'learning rate or check the data (gqn check)' % (
                        value, self.iteration + 1, sigma, optimizer.alpha,
                        '; parameters were not updated' if self.finite_check_interval == 1
                        else ' (checked every %d iterations)' % self.finite_check_interval))
        loss_fun.cleargrads()
        loss.backward()
        optimizer.update()

    def serialize(self, serializer):
        super().serialize(serializer)
        self.converter.serialize(serializer['converter'])
