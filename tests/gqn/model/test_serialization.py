import os

import chainer
import numpy
import pytest

from gqn.errors import GQNError
from gqn.model.gqn import GQN
from gqn.model.weights import load_hyperparams, load_model, save_model


@pytest.mark.parametrize('rep,shared', [('tower', False), ('pyramid', True)])
def test_round_trip_restores_identical_outputs(rep, shared, tmp_path, tiny_hp, gqn_batch):
    hp = tiny_hp(representation=rep, shared_core=shared)
    model = GQN(hp)
    directory = str(tmp_path / 'snapshot')
    save_model(directory, model)
    assert sorted(os.listdir(directory)) == ['hyperparams.json', 'model.npz']
    loaded = load_model(directory)
    assert loaded.hp == hp and load_hyperparams(directory) == hp
    batch = gqn_batch()
    outputs = []
    for m in (model, loaded):
        numpy.random.seed(5)
        with chainer.no_backprop_mode():
            mean, kl = m.reconstruct(*batch)
            outputs.append((mean.array, kl.array, m.generate(*batch[:2], batch[3]).array))
    for a, b in zip(*outputs):
        numpy.testing.assert_array_equal(a, b)
    fresh = GQN(hp)
    numpy.random.seed(5)
    with chainer.no_backprop_mode():
        assert numpy.abs(fresh.reconstruct(*batch)[0].array - outputs[0][0]).max() > 0


def test_loading_never_unpickles(tmp_path, tiny_hp):
    directory = str(tmp_path / 'snapshot')
    model = GQN(tiny_hp())
    save_model(directory, model)
    path = os.path.join(directory, 'model.npz')
    arrays = dict(numpy.load(path))
    key = sorted(arrays)[0]
    arrays[key] = numpy.array([{'pickled': True}], dtype=object)
    numpy.savez(path, **arrays)
    with pytest.raises(GQNError, match='model.npz'):
        load_model(directory)


def test_missing_or_mismatched_files(tmp_path, tiny_hp):
    directory = str(tmp_path / 'snapshot')
    with pytest.raises(GQNError, match='hyperparams.json'):
        load_model(directory)
    save_model(directory, GQN(tiny_hp()))
    other = str(tmp_path / 'other')
    save_model(other, GQN(tiny_hp(h_channels=6)))
    os.replace(os.path.join(other, 'model.npz'), os.path.join(directory, 'model.npz'))
    with pytest.raises(GQNError, match='do not fit'):
        load_model(directory)
    os.remove(os.path.join(directory, 'model.npz'))
    with pytest.raises(GQNError, match='cannot read'):
        load_model(directory)
