"""Where the model's latent noise comes from, and fixed seeds that leave training alone.

The latent noise ``eps`` of :func:`gqn.model.generator.sample_gaussian` comes from
:data:`latent_noise`. Unkeyed (the default, for library use), it is
``xp.random.standard_normal``, so ``numpy.random.seed`` makes a CPU run
repeatable. Keyed with integers, it comes from a generator built from those
integers alone, on NumPy and on CuPy: ``gqn train`` keys it with ``(seed, rank,
iteration)`` before every step, so ``--seed`` fixes the noise on every device
and a resumed run draws exactly the noise of an uninterrupted one, with no
generator state to save.
"""
import contextlib

import numpy as np


class LatentNoise:
    """Standard normal noise, from ``xp.random`` or from a generator keyed by integers."""

    def __init__(self):
        self._key = None
        self._generators = {}  # array module -> generator for the current key

    @property
    def key(self):
        """The current key (a tuple of ints), or ``None``."""
        return self._key

    def set_key(self, *key):
        """Draw from now on from generators seeded by ``key`` (ints); no key: ``xp.random``."""
        self._key = tuple(int(k) for k in key) or None
        self._generators = {}

    def _generator(self, xp):
        generator = self._generators.get(xp)
        if generator is None:
            seed = np.random.SeedSequence(self._key)
            if xp is np:
                generator = np.random.Generator(np.random.PCG64(seed))
            else:  # CuPy: its own generator (cuRAND), seeded from the same key
                generator = xp.random.RandomState(int(seed.generate_state(1, np.uint64)[0]))
            self._generators[xp] = generator
        return generator

    def standard_normal(self, xp, shape, dtype):
        """An array of ``shape`` and ``dtype`` (float32/float64) of N(0, 1) samples."""
        if self._key is None:
            return xp.random.standard_normal(shape).astype(dtype, copy=False)
        return self._generator(xp).standard_normal(shape, dtype=dtype)

    @contextlib.contextmanager
    def keyed(self, *key):
        """Use ``key`` inside the block; the previous key and its generators' state after."""
        saved = self._key, self._generators
        self.set_key(*key)
        try:
            yield
        finally:
            self._key, self._generators = saved


#: The one source of the model's latent noise.
latent_noise = LatentNoise()


def fixed_seed(seed):
    """Latent noise keyed by ``seed`` inside the block, the training stream untouched after.

    Evaluation and image extensions sample from the model; under ``fixed_seed``
    their output is repeatable and the training trajectory is the same whether
    or not (and how often) they run.
    """
    return latent_noise.keyed(seed)
