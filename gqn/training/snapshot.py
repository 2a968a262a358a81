"""Training snapshots: the whole trainer state plus RNG state, written atomically.

A snapshot ``<run>/snapshots/snapshot_iter_<N>.npz`` holds the trainer's
serialization (model parameters, Adam moments and step count, the iterator's
position and order, the context/query sampler's RNG, extension states) and
the global NumPy RNG state (the iterator's shuffles), so a resumed run continues
exactly where the snapshot was taken. The latent noise needs no state: it is
keyed by ``(seed, rank, iteration)`` (:mod:`gqn.ops.random_state`), on the CPU and
on CUDA alike. The hyperparameters live beside it as
``<run>/snapshots/hyperparams.json``. Loading never unpickles.
"""
import os
import re
import zipfile

import numpy as np
from chainer import serializers, training

from gqn import files
from gqn.errors import GQNError

SNAPSHOT_DIR = 'snapshots'
_NAME_RE = re.compile(r'^snapshot_iter_(\d+)\.npz$')
#: what a damaged snapshot raises when read
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
#: the iterator's state: it fits only a run with the same number of processes
ITERATOR_STATE = 'updater/iterator:main/'
#: snapshot keys that belong to rank 0 alone: its place in its own shards and its
#: context/query sampler
RANK_STATE = (ITERATOR_STATE, 'updater/converter/')


def _rng_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {'rng/numpy/keys': keys, 'rng/numpy/pos': np.int64(pos),
            'rng/numpy/has_gauss': np.int64(has_gauss),
            'rng/numpy/cached_gaussian': np.float64(cached)}


def _set_rng_state(npz):
    np.random.set_state(('MT19937', npz['rng/numpy/keys'], int(npz['rng/numpy/pos']),
                         int(npz['rng/numpy/has_gauss']),
                         float(npz['rng/numpy/cached_gaussian'])))


def save_snapshot(trainer, path):
    """Serialize ``trainer`` and the RNG state to ``path`` atomically.

    Raises:
        GQNError: when the file cannot be written (a full disk, say): the
            partial temporary file is removed and any earlier snapshot kept.
    """
    s = serializers.DictionarySerializer()
    s.save(trainer)
    target = dict(s.target)
    target.update(_rng_state())
    try:
        files.atomic_write(path, lambda f: files.write_npz(f, target),
                            size_hint=sum(np.asarray(a).nbytes for a in target.values()))
    except GQNError as e:
        raise GQNError('%s; the previous snapshot is kept' % e) from None


def check_snapshot(path):
    """Read every array of ``path`` (their CRCs included); a one-line reason if damaged, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                npz[key]
    except _READ_ERRORS as e:
        return '%s: %s' % (type(e).__name__, e) if str(e) else type(e).__name__
    return None


def iterator_fits(trainer, path):
    """Whether the data order saved in ``path`` fits ``trainer``'s iterator (same number of
    scenes per process, so the same number of processes)."""
    scenes = len(trainer.updater.get_iterator('main').dataset)
    with np.load(path, allow_pickle=False) as npz:
        key = ITERATOR_STATE + 'order'
        return key not in npz.files or npz[key].shape == (scenes,)


def load_snapshot(trainer, path, skip=()):
    """Restore ``trainer`` and the RNG state from ``path`` (no pickle).

    Args:
        skip (tuple of str): prefixes of snapshot keys not to restore (e.g.
            ``'updater/iterator:main/'``).
    """
    skip = tuple(skip)
    try:
        with np.load(path, allow_pickle=False) as npz:
            serializers.NpzDeserializer(
                npz, ignore_names=lambda key: bool(skip) and key.startswith(skip)
            ).load(trainer)
            _set_rng_state(npz)
    except _READ_ERRORS as e:
        raise GQNError('%s: cannot resume from this snapshot (%s)' % (path, e)) from None


def snapshots(run_dir):
    """Paths of the snapshots in ``run_dir``, newest first."""
    d = os.path.join(run_dir, SNAPSHOT_DIR)
    if not os.path.isdir(d):
        return []
    found = [(int(m.group(1)), f) for f in os.listdir(d) for m in [_NAME_RE.match(f)] if m]
    return [os.path.join(d, f) for _, f in sorted(found, reverse=True)]


def latest_snapshot(run_dir):
    """Path of the newest snapshot in ``run_dir``, or ``None``."""
    found = snapshots(run_dir)
    return found[0] if found else None


def latest_good_snapshot(run_dir, report=print):
    """Path of the newest snapshot of ``run_dir`` that reads back whole, or ``None``;
    ``report`` is told about each damaged one skipped."""
    for path in snapshots(run_dir):
        problem = check_snapshot(path)
        if problem is None:
            return path
        report('skipping damaged snapshot %s (%s)' % (path, problem))
    return None


class Snapshot(training.Extension):
    """Write a snapshot, keeping the newest ``keep`` of them.

    Runs at the lowest priority, after every other extension of the same
    iteration, so a resumed run does not repeat or skip any of their work.
    """

    priority = -100

    def __init__(self, keep=2):
        self.keep = keep

    def __call__(self, trainer):
        model = trainer.updater.get_optimizer('main').target
        for name, param in model.namedparams():
            if param.array is not None and not model.xp.isfinite(param.array).all():
                raise GQNError(
                    'parameter %s is not finite at iteration %d; no snapshot written, the '
                    'previous one is the last good state: lower the learning rate'
                    % (name, trainer.updater.iteration))
        d = os.path.join(trainer.out, SNAPSHOT_DIR)
        os.makedirs(d, exist_ok=True)
        save_snapshot(trainer, os.path.join(
            d, 'snapshot_iter_%d.npz' % trainer.updater.iteration))
        found = sorted((int(m.group(1)), f) for f in os.listdir(d)
                       for m in [_NAME_RE.match(f)] if m)
        for _, f in found[:-self.keep]:
            os.remove(os.path.join(d, f))


#: The models shipped in the package (``gqn/pretrained/<name>/``: ``hyperparams.json``,
#: float16 ``model.npz``, a model card ``README.md``), named ``pretrained:<name>``.
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'pretrained')
PRETRAINED = 'pretrained:'


def pretrained_names():
    """The names of the shipped models (sorted)."""
    if not os.path.isdir(PRETRAINED_DIR):
        return []
    return sorted(n for n in os.listdir(PRETRAINED_DIR)
                  if os.path.exists(os.path.join(PRETRAINED_DIR, n, 'model.npz')))


def pretrained_folder(path):
    """The model folder of ``pretrained:NAME``.

    Raises:
        GQNError: no shipped model of that name.
    """
    name = path[len(PRETRAINED):]
    if name not in pretrained_names():
        raise GQNError('no pretrained model %r (shipped: %s)'
                       % (name, ', '.join(pretrained_names()) or 'none'))
    return os.path.join(PRETRAINED_DIR, name)


def load_trained(path):
    """The model of a run directory, of its ``model/`` folder, of one snapshot, or a
    shipped model.

    Args:
        path (str): ``<run>`` (its ``model/`` when training finished, else its
            latest snapshot), ``<run>/model``, ``<run>/snapshots/snapshot_iter_N.npz``,
            or ``pretrained:NAME`` (:func:`pretrained_names`; its float16 weights are
            loaded as float32).

    Returns:
        tuple: ``(model, run_dir)``: the :class:`gqn.GQN` on the CPU, and the
        run directory (``None`` when ``path`` is a bare model folder or a shipped model).
    """
    from gqn.model import weights
    from gqn.model.gqn import GQN
    if path.startswith(PRETRAINED):
        return weights.load_model(pretrained_folder(path)), None
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, weights.WEIGHTS)):
            run = os.path.dirname(os.path.abspath(path))
            return weights.load_model(path), (
                run if os.path.exists(os.path.join(run, 'config.json')) else None)
        if os.path.exists(os.path.join(path, 'model', weights.WEIGHTS)):
            return weights.load_model(os.path.join(path, 'model')), path
        if not snapshots(path):
            raise GQNError('%s holds no trained model (model/ or snapshots/)' % path)
        snapshot = latest_good_snapshot(path)
        if snapshot is None:
            raise GQNError('%s: every snapshot is damaged' % path)
        return load_trained(snapshot)
    if not os.path.exists(path):
        raise GQNError('%s: no such run, model folder or snapshot' % path)
    model = GQN(weights.load_hyperparams(os.path.dirname(path)))
    try:
        with np.load(path, allow_pickle=False) as npz:
            serializers.NpzDeserializer(npz, path='updater/model:main/model/').load(model)
    except _READ_ERRORS as e:
        raise GQNError('%s: not a readable training snapshot (%s)' % (
            path, check_snapshot(path) or e)) from None
    return model, os.path.dirname(os.path.dirname(os.path.abspath(path)))
