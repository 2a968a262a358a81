"""Run code with a fixed seed without disturbing the training RNG stream."""
import contextlib

import numpy as np


@contextlib.contextmanager
def fixed_seed(seed, xp=np):
    """Seed ``xp.random`` (NumPy or CuPy) inside the block, restore it after.

    Evaluation and image extensions sample from the model; running them under
    ``fixed_seed`` makes their output repeatable and leaves the training
    trajectory identical whether or not (and how often) they run.
    """
    if xp is np:
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)
    else:
        saved = xp.random.get_random_state()
        xp.random.set_random_state(xp.random.RandomState(seed))
        try:
            yield
        finally:
            xp.random.set_random_state(saved)
