"""One training step: anneal sigma, compute the negative ELBO, update."""
import concurrent.futures

import chainer
import numpy as np
from chainer import serializers, training

from gqn.errors import GQNError
from gqn.ops.random_state import latent_noise


def linear_schedule(start, end, steps, iteration):
    """``start`` → ``end`` linearly over ``steps`` iterations, then held."""
    if steps <= 0:
        return end
    t = min(iteration / steps, 1.0)
    return start + (end - start) * t


_EPOCH = ('epoch', 'epoch_detail', 'previous_epoch_detail', 'is_new_epoch')


class NonFiniteLossError(GQNError):
    """The loss became NaN or infinite; parameters were not updated."""


class NonFiniteGradientError(GQNError):
    """A gradient became NaN or infinite while the loss was finite; parameters were not
    updated."""


class GQNUpdater(training.updaters.StandardUpdater):
    """A StandardUpdater that feeds the annealed pixel sigma to the loss.

    Both schedules are functions of the iteration only, so they are restored
    exactly on resume (the iteration is part of the snapshot).

    Args:
        iterator: Scenes iterator (batches of ``(x, v)``).
        optimizer: Optimizer whose target is a :class:`gqn.GQNLoss`.
        converter (gqn.data.context_query.ContextQuerySampler): Splits scenes into context/query.
        sigma (tuple): ``(start, end, steps)`` of the pixel sigma schedule.
        lr (tuple): ``(start, end, steps)`` of Adam's ``alpha``.
        device: Chainer device the batch is sent to.
        noise_key (tuple): ints; step ``i`` draws its latent noise from
            :data:`gqn.ops.random_state.latent_noise` keyed by ``noise_key + (i,)``
            (``(seed, rank)`` in ``gqn train``), on every device alike, so that a
            resumed run continues the noise exactly.
        finite_check_interval (int): check that the loss and every parameter's
            gradient are finite every this many steps (1: before every update, the
            default), in one read from the device. That read waits for the device,
            so on CUDA ``gqn train`` checks at log intervals only.
        prefetch (bool): read, send and convert the next batch in a background
            thread while this step computes. Its scenes and views are drawn in this
            thread, one step ahead; :meth:`settle` puts the iterator and the random
            state back to before that draw (snapshots call it), so a run resumed from
            a snapshot continues exactly as the uninterrupted one, and a run with
            prefetch draws the same batches as one without.
    """

    def __init__(self, iterator, optimizer, converter, sigma, lr, device, noise_key=(0, 0),
                 finite_check_interval=1, prefetch=False):
        super().__init__(iterator, optimizer, converter=converter, device=device)
        self.sigma_schedule = sigma
        self.lr_schedule = lr
        self.noise_key = tuple(noise_key)
        self.finite_check_interval = finite_check_interval
        self.prefetch = prefetch
        self._worker = None
        self._pending = None  # (future of the next batch, state before drawing it)

    @property
    def sigma(self):
        return linear_schedule(*self.sigma_schedule, self.iteration)

    def update_core(self):
        optimizer = self._optimizers['main']
        loss_fun = optimizer.target
        batch = self._next_batch()
        optimizer.alpha = linear_schedule(*self.lr_schedule, self.iteration)
        sigma = self.sigma
        chainer.report({'sigma': sigma, 'lr': optimizer.alpha})
        latent_noise.set_key(*self.noise_key, self.iteration)
        loss = loss_fun(sigma=sigma, **batch)
        loss_fun.cleargrads()
        loss.backward()
        if (self.iteration + 1) % self.finite_check_interval == 0:
            self._check_finite(loss, loss_fun, sigma, optimizer.alpha)
        optimizer.update()

    def _check_finite(self, loss, loss_fun, sigma, lr):
        """Raise if the loss or a gradient is not finite, reading one flag per array from
        the device at once."""
        grads = [(name, param.grad) for name, param in loss_fun.namedparams()
                 if param.grad is not None]
        xp = chainer.backend.get_array_module(loss.array)
        flags = xp.stack([xp.isfinite(loss.array)] + [xp.isfinite(g).all() for _, g in grads])
        flags = chainer.backend.CpuDevice().send(flags)
        if flags.all():
            return
        when = ('at iteration %d (sigma %.3g, lr %.3g)%s' % (
            self.iteration + 1, sigma, lr, '' if self.finite_check_interval == 1
            else ', checked every %d iterations' % self.finite_check_interval))
        if not flags[0]:
            raise NonFiniteLossError(
                'the loss became %s %s; parameters were not updated, and the last snapshot '
                'in the run directory is the last good state: lower the learning rate or '
                'check the data (gqn check)' % (float(loss.array), when))
        bad = [name for (name, _), ok in zip(grads, flags[1:]) if not ok]
        grad = chainer.backend.CpuDevice().send(dict(grads)[bad[0]])
        raise NonFiniteGradientError(
            'the gradient of %s became %s %s while the loss was finite (%.4g)%s; parameters '
            'were not updated, and the last snapshot in the run directory is the last good '
            'state: lower the learning rate, or bound the log-variances (model.logvar_bound)'
            % (bad[0], 'nan' if np.isnan(grad).any() else 'inf', when, float(loss.array),
               ' (and that of %d other parameter%s)' % (len(bad) - 1, 's' * (len(bad) > 2))
               if len(bad) > 1 else ''))

    def _draw(self):
        """The next scenes and their context/query views (advances the iterator, the
        sampler's generator and, at an epoch's end, NumPy's global one)."""
        scenes = self._iterators['main'].next()
        return scenes, *self.converter.sample_indices(len(scenes))

    def _next_batch(self):
        if self._pending is None:
            batch = self.converter.gather(*self._draw(), self.device)
        else:
            batch = self._pending[0].result()
            self._pending = None
        if self.prefetch:
            if self._worker is None:
                self._worker = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix='gqn-prefetch')
            before = self._state()
            self._pending = (self._worker.submit(self._gather, *self._draw()), before)
        return batch

    def _gather(self, scenes, context, query):
        with chainer.using_device(self.device):
            return self.converter.gather(scenes, context, query, self.device)

    def _state(self):
        iterator = self._iterators['main']
        saved = serializers.DictionarySerializer()
        iterator.serialize(saved)
        return {'iterator': {k: np.copy(v) for k, v in saved.target.items()},
                'sampler': self.converter.rng.get_state(), 'numpy': np.random.get_state(),
                'epoch': {name: getattr(iterator, name) for name in _EPOCH}}

    def settle(self):
        """Drop a prefetched batch and rewind the iterator, the sampler and NumPy's global
        generator to before it was drawn: the state an updater without prefetch has."""
        if self._pending is None:
            return
        future, before = self._pending
        self._pending = None
        future.result()  # the worker reads the iterator's scenes: let it finish first
        self._iterators['main'].serialize(serializers.NpzDeserializer(before['iterator']))
        self.converter.rng.set_state(before['sampler'])
        np.random.set_state(before['numpy'])

    # the epoch of the batch being trained on, not of the one prefetched
    epoch = property(lambda self: self._at_step('epoch'))
    epoch_detail = property(lambda self: self._at_step('epoch_detail'))
    previous_epoch_detail = property(lambda self: self._at_step('previous_epoch_detail'))
    is_new_epoch = property(lambda self: self._at_step('is_new_epoch'))

    def _at_step(self, name):
        if self._pending is None:
            return getattr(self._iterators['main'], name)
        return self._pending[1]['epoch'][name]

    def finalize(self):
        self.settle()
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None
        super().finalize()

    def serialize(self, serializer):
        self.settle()  # the state of the step trained last, not of the prefetch
        super().serialize(serializer)
        self.converter.serialize(serializer['converter'])
