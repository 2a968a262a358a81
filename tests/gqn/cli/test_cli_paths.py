"""Output paths a command cannot write: one line naming the path, exit 2, for every command."""
import os

import pytest

from gqn.cli import main
from gqn.testing.datasets import TINY_MODEL
from gqn.training.config import TrainConfig
from gqn.training.trainer import train


@pytest.fixture
def run(synthetic_dataset, tmp_path):
    out = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=2,
                      eval_scenes=4), out, quiet=True)
    return out


def _bad_outputs(tmp_path):
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    return {'a file': str(a_file), 'under a file': str(a_file / 'out'),
            'unwritable': '/proc/gqn-test/out'}


def test_eval_and_gif_name_an_output_they_cannot_write(run, tmp_path, capsys):
    for what, out in _bad_outputs(tmp_path).items():
        for argv in (['eval', run, '--scenes', '2', '--max-context', '1', '--out', out],
                     ['gif', run, '--frames', '2', '--out', os.path.join(out, 'a.gif')]):
            capsys.readouterr()
            assert main(argv) == 2, (what, argv)
            err = capsys.readouterr().err
            assert err.count('\n') == 1 and 'error:' in err, (what, err)


def test_render_names_an_output_it_cannot_write(tmp_path, capsys):
    for what, out in _bad_outputs(tmp_path).items():
        capsys.readouterr()
        assert main(['render', 'shepard_matzler_demo', '--out', out, '--train-scenes', '2',
                     '--test-scenes', '1', '--set', 'views=2', '--set', 'image_size=8',
                     '--workers', '1', '--no-progress']) == 2, what
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'error:' in err, (what, err)
