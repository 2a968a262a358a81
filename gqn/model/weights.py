"""Model snapshots: ``hyperparams.json`` + ``model.npz`` in a directory, never pickled."""
import os
import zipfile

import chainer
import numpy

from gqn import files
from gqn.errors import GQNError
from gqn.model.hyperparams import HyperParameters

HYPERPARAMS = 'hyperparams.json'
WEIGHTS = 'model.npz'


def save_hyperparams(directory, hp):
    """Write ``hp`` to ``<directory>/hyperparams.json`` atomically."""
    os.makedirs(directory, exist_ok=True)
    hp.to_json(os.path.join(directory, HYPERPARAMS))


def load_hyperparams(directory):
    """Read ``<directory>/hyperparams.json``.

    Raises:
        GQNError: if it is missing or invalid.
    """
    return HyperParameters.from_json(os.path.join(directory, HYPERPARAMS))


def save_model(directory, model):
    """Write ``model.hp`` and the parameters of ``model`` into ``directory``.

    Both files are written under temporary names and renamed into place.
    """
    save_hyperparams(directory, model.hp)
    path = os.path.join(directory, WEIGHTS)
    weights = chainer.serializers.DictionarySerializer()
    weights.save(model)
    files.atomic_write(path, lambda f: files.write_npz(f, weights.target))


def load_npz_weights(path, link):
    """Load parameters saved by :func:`chainer.serializers.save_npz` into ``link``.

    Unlike ``chainer.serializers.load_npz`` this never unpickles
    (``allow_pickle=False``).

    Raises:
        GQNError: if the file is missing, unreadable or does not fit ``link``.
    """
    try:
        with numpy.load(path, allow_pickle=False) as f:
            chainer.serializers.NpzDeserializer(f).load(link)
    except OSError as e:
        raise GQNError('cannot read weights %s: %s' % (path, e.strerror or e)) from None
    except (EOFError, zipfile.BadZipFile) as e:
        raise GQNError('weights %s are damaged (%s)' % (path, e or type(e).__name__)) from None
    except (KeyError, ValueError) as e:
        raise GQNError('weights %s do not fit the model: %s' % (path, e)) from None


def load_model(directory, hoist=True):
    """Build the :class:`~gqn.model.gqn.GQN` saved in ``directory`` (on the CPU).

    Raises:
        GQNError: if a file is missing or does not fit.
    """
    from gqn.model.gqn import GQN
    model = GQN(load_hyperparams(directory), hoist=hoist)
    load_npz_weights(os.path.join(directory, WEIGHTS), model)
    return model
