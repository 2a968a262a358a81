"""Where the model's latent noise comes from, and fixed seeds that leave training alone.

The latent noise ``eps`` of :func:`gqn.model.generator.sample_gaussian` comes from
:data:`latent_noise`. Unkeyed (the default, for library use), it is
``xp.random.standard_normal``, so ``numpy.random.seed`` makes a CPU run
repeatable. Keyed with integers, it comes from a generator built from those
integers alone, on NumPy and on CuPy: ``gqn train`` keys it with ``(seed, rank,
iteration)`` before every step, so ``--seed`` fixes the noise on every device
and a resumed run draws exactly the noise of an uninterrupted one, with no
generator state to save. Keyed by rows, each row of the batch draws from its own
generator: ``gqn eval`` keys row ``i`` with ``(seed, scene, K)``, so a scene's
prediction does not depend on the batch size or its place in the batch.
"""
import contextlib

import numpy as np


class LatentNoise:
    """Standard normal noise, from ``xp.random`` or from generators keyed by integers.

    One key (:meth:`set_key`) seeds one generator that fills whole arrays. Row keys
    (:meth:`set_row_keys`) seed one generator per row of the batch: row ``i`` of every
    array drawn is the next draw of the generator of ``keys[i]``, so a row's noise
    does not depend on the other rows (how many there are, or which).
    """

    def __init__(self):
        self._keys = None  # None (xp.random), or a tuple of key tuples
        self._per_row = False
        self._generators = {}  # array module -> one generator per key, for the current keys

    @property
    def key(self):
        """The current key (a tuple of ints), or ``None`` (unkeyed, or keyed by rows)."""
        return None if self._keys is None or self._per_row else self._keys[0]

    def set_key(self, *key):
        """Draw from now on from generators seeded by ``key`` (ints); no key: ``xp.random``."""
        key = tuple(int(k) for k in key)
        self._keys, self._per_row, self._generators = (key,) if key else None, False, {}

    def set_row_keys(self, keys):
        """Draw row ``i`` of every array from generators seeded by ``keys[i]`` (tuples of ints).

        The arrays drawn must then have ``len(keys)`` rows (their first axis).
        """
        keys = tuple(tuple(int(k) for k in key) for key in keys)
        if not keys or not all(keys):
            raise ValueError('row keys must be non-empty tuples of ints, one per row')
        self._keys, self._per_row, self._generators = keys, True, {}

    def _generators_for(self, xp):
        generators = self._generators.get(xp)
        if generators is None:
            generators = [_generator(xp, key) for key in self._keys]
            self._generators[xp] = generators
        return generators

    def standard_normal(self, xp, shape, dtype):
        """An array of ``shape`` and ``dtype`` (float32/float64) of N(0, 1) samples."""
        if self._keys is None:
            return xp.random.standard_normal(shape).astype(dtype, copy=False)
        generators = self._generators_for(xp)
        if not self._per_row:
            return generators[0].standard_normal(shape, dtype=dtype)
        if not shape or shape[0] != len(generators):
            raise ValueError('noise of shape %s drawn with %d row keys'
                             % (tuple(shape), len(generators)))
        return xp.stack([g.standard_normal(tuple(shape[1:]), dtype=dtype) for g in generators])

    @contextlib.contextmanager
    def _restoring(self):
        saved = self._keys, self._per_row, self._generators
        try:
            yield
        finally:
            self._keys, self._per_row, self._generators = saved

    @contextlib.contextmanager
    def keyed(self, *key):
        """Use ``key`` inside the block; the previous key and its generators' state after."""
        with self._restoring():
            self.set_key(*key)
            yield

    @contextlib.contextmanager
    def keyed_rows(self, keys):
        """Use row keys ``keys`` (:meth:`set_row_keys`) inside the block; the previous
        key and its generators' state after."""
        with self._restoring():
            self.set_row_keys(keys)
            yield


def _generator(xp, key):
    """A generator of ``xp`` seeded by the ints ``key`` alone."""
    seed = np.random.SeedSequence(key)
    if xp is np:
        return np.random.Generator(np.random.PCG64(seed))
    # CuPy: its own generator (cuRAND), seeded from the same key
    return xp.random.RandomState(int(seed.generate_state(1, np.uint64)[0]))


#: The one source of the model's latent noise.
latent_noise = LatentNoise()


def fixed_seed(seed):
    """Latent noise keyed by ``seed`` inside the block, the training stream untouched after.

    Evaluation and image extensions sample from the model; under ``fixed_seed``
    their output is repeatable and the training trajectory is the same whether
    or not (and how often) they run.
    """
    return latent_noise.keyed(seed)
