"""The models shipped in the package (``pretrained:NAME``, ``gqn/pretrained/``)."""
import os

import numpy as np
import pytest

from gqn.cli import main
from gqn.errors import GQNError
from gqn.testing.datasets import write_synthetic_dataset
from gqn.training.config import TrainConfig, find_preset
from gqn.training.snapshot import PRETRAINED_DIR, load_trained, pretrained_names
from gqn.training.trainer import build_trainer

#: shipped model -> the preset that trained it
SHIPPED = {'rooms': 'rooms_hour', 'shepard_matzler': 'cpu_hour'}


def test_the_shipped_models_and_their_cards():
    assert pretrained_names() == sorted(SHIPPED)
    for name, preset in SHIPPED.items():
        folder = os.path.join(PRETRAINED_DIR, name)
        assert sorted(os.listdir(folder)) == ['README.md', 'config.json', 'hyperparams.json',
                                              'model.npz']
        assert os.path.getsize(os.path.join(folder, 'model.npz')) < 10e6
        with np.load(os.path.join(folder, 'model.npz')) as npz:
            assert {npz[k].dtype for k in npz.files} == {np.dtype(np.float16)}
        model, run_dir = load_trained('pretrained:' + name)
        assert run_dir is None
        assert {p.array.dtype for p in model.params()} == {np.dtype(np.float32)}
        recipe = TrainConfig.from_toml(find_preset(preset))
        assert all(getattr(model.hp, k) == v for k, v in recipe.model.items())
        # the model was trained by the preset as it is now: its schedules and objective too
        shipped = TrainConfig.from_json(os.path.join(folder, 'config.json'))
        for key in ('objective', 'batch_size', 'lr_start', 'lr_end', 'lr_steps',
                    'sigma_start', 'sigma_end', 'sigma_steps', 'minutes'):
            assert getattr(shipped, key) == getattr(recipe, key), (name, key)
        card = open(os.path.join(folder, 'README.md')).read()
        for needed in ('gqn train %s' % preset, 'test seed 4099', 'object pixels', 'float16'):
            assert needed in card, needed


def test_an_unknown_name_is_one_line():
    with pytest.raises(GQNError, match=r"^no pretrained model 'chairs' \(shipped: rooms, "
                                       r"shepard_matzler\)$"):
        load_trained('pretrained:chairs')


@pytest.fixture(scope='module')
def data32(tmp_path_factory):
    return write_synthetic_dataset(str(tmp_path_factory.mktemp('d') / 'd'), size=32,
                                   per_shard=4, scenes=8)


def test_init_from_a_shipped_model(data32, tmp_path):
    model, _ = load_trained('pretrained:rooms')
    config = TrainConfig.from_toml(find_preset('rooms_hour')).replace(
        dataset=data32, batch_size=4, init='pretrained:rooms')
    trainer = build_trainer(config, str(tmp_path / 'run'))
    started = trainer.updater.get_optimizer('main').target.model
    assert started.hp == model.hp
    source = dict(model.namedparams())
    for name, param in started.namedparams():
        np.testing.assert_array_equal(param.array, source[name].array)


def test_eval_gif_view_take_a_shipped_model(data32, tmp_path, capsys):
    out = str(tmp_path / 'eval')
    assert main(['eval', 'pretrained:shepard_matzler', '--dataset', data32, '--scenes', '4',
                 '--out', out]) == 0
    assert os.path.exists(os.path.join(out, 'eval.json'))
    gif = str(tmp_path / 'a.gif')
    assert main(['gif', 'pretrained:shepard_matzler', '--dataset', data32, '--frames', '2',
                 '--out', gif]) == 0
    assert os.path.exists(gif)
    assert main(['eval', 'pretrained:shepard_matzler', '--out', out]) == 2
    assert 'no dataset: pass --dataset ROOT' in capsys.readouterr().err
