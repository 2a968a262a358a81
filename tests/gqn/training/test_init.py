"""``gqn train --init``: a new run from a trained model's weights (fine-tuning)."""
import json
import os

import numpy as np
import pytest

from gqn.cli import main
from gqn.errors import GQNError
from gqn.testing.datasets import TINY_MODEL, tiny_train_config, write_synthetic_dataset
from gqn.training.snapshot import load_trained
from gqn.training.trainer import build_trainer, train


def params(link):
    return {name: np.array(p.array) for name, p in link.namedparams()}


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A run of 4 iterations, and a second dataset with other cameras (radius 3 → 4.5)."""
    tmp = tmp_path_factory.mktemp('init')
    data = write_synthetic_dataset(str(tmp / 'a'))
    other = write_synthetic_dataset(str(tmp / 'b'), seed=1)
    for split in ('train', 'test'):
        for name in os.listdir(os.path.join(other, split, 'viewpoints')):
            path = os.path.join(other, split, 'viewpoints', name)
            v = np.load(path)
            v[..., :3] *= 1.5
            np.save(path, v)
    run = str(tmp / 'source')
    train(tiny_train_config(data, iterations=4), run, quiet=True)
    return run, other


def test_a_new_run_starts_from_the_weights(source, tmp_path):
    run, other = source
    model, _ = load_trained(run)
    trainer = build_trainer(tiny_train_config(other, init=run), str(tmp_path / 'new'))
    started = trainer.updater.get_optimizer('main').target.model
    assert started.hp == model.hp  # position_scale too: the source's, not the new data's
    for name, value in params(model).items():
        np.testing.assert_array_equal(params(started)[name], value)
    assert trainer.updater.iteration == 0
    fresh = build_trainer(tiny_train_config(other), str(tmp_path / 'fresh'))
    assert fresh.updater.get_optimizer('main').target.model.hp.position_scale != \
        model.hp.position_scale


def test_other_hyperparameters_are_one_line(source, tmp_path):
    run, other = source
    config = tiny_train_config(other, init=run, model=dict(TINY_MODEL, r_channels=8,
                                                            generation_steps=3))
    with pytest.raises(GQNError) as e:
        build_trainer(config, str(tmp_path / 'new'))
    message = str(e.value)
    assert '\n' not in message and message.startswith('--init %s: ' % run)
    assert 'model.generation_steps 2 -> 3, model.r_channels 16 -> 8' in message


def test_a_frozen_representation_does_not_change(source, tmp_path, capsys):
    run, other = source
    model, _ = load_trained(run)
    out = str(tmp_path / 'tuned')
    preset = tmp_path / 'tiny.toml'
    preset.write_text('batch_size = 4\nlog_interval = 2\nsnapshot_interval = 2\n'
                      'eval_interval = 2\nimage_interval = 2\neval_scenes = 8\n[model]\n'
                      + ''.join('%s = %s\n' % (k, json.dumps(v)) for k, v in TINY_MODEL.items()))
    assert main(['train', str(preset), '--dataset', other, '--out', out, '--init', run,
                 '--freeze-representation', '--iterations', '4', '--quiet']) == 0
    config = json.load(open(os.path.join(out, 'config.json')))
    assert config['init'] == os.path.abspath(run) and config['freeze_representation'] is True
    tuned, _ = load_trained(out)
    before, after = params(model), params(tuned)
    for name in before:
        if name.startswith('/representation/'):
            np.testing.assert_array_equal(after[name], before[name])
    assert any(not np.array_equal(after[n], before[n]) for n in before
               if n.startswith('/generator/'))
    # it resumes (its snapshots hold no Adam state for the frozen weights), still frozen
    assert main(['train', '--out', out, '--resume', '--iterations', '6', '--quiet']) == 0
    resumed, _ = load_trained(out)
    for name in before:
        if name.startswith('/representation/'):
            np.testing.assert_array_equal(params(resumed)[name], before[name])
    # --init belongs to a new run
    assert main(['train', '--out', out, '--resume', '--init', run]) == 2
    assert 'a resumed run continues from its snapshot' in capsys.readouterr().err
