import json
import os

import pytest
from PIL import Image

from gqn.cli import main
from gqn.cli.demo import mpi_available


@pytest.mark.slow
def test_quick_demo_runs_end_to_end(tmp_path, capsys):
    out = str(tmp_path / 'demo')
    assert main(['demo', '--quick', '--out', out, '--workers', '1']) == 0
    printed = capsys.readouterr().out
    for path in ['data/manifest.json', 'data/preview.png', 'run/model/model.npz', 'run/log',
                 'run/loss.png', 'run/eval/eval.json', 'run/eval/eval.md',
                 'run/eval/predictions.png', 'rotation.gif']:
        assert os.path.exists(os.path.join(out, path)), path
        assert os.path.join(out, path) in printed or path.startswith('run/') or path == 'data/manifest.json'
    with open(os.path.join(out, 'run', 'eval', 'eval.json')) as f:
        result = json.load(f)
    assert result['scenes'] == 16 and len(result['rows']) == 15  # K = 0..14
    with open(os.path.join(out, 'run', 'log')) as f:
        log = json.load(f)
    assert [e['iteration'] for e in log] == [10, 20, 30]
    # the preset's batch is the global one, over one rank per core when MPI is there
    with open(os.path.join(out, 'run', 'config.json')) as f:
        config = json.load(f)
    assert config['batch_size'] == 16
    assert config['processes'] == ((os.cpu_count() or 1) if mpi_available() else 1)
    assert 'validation/main/prediction_mse' in log[1]
    assert os.path.exists(os.path.join(out, 'run', 'images', 'predictions_iter_30.png'))
    gif = Image.open(os.path.join(out, 'rotation.gif'))
    assert gif.n_frames == 8
    # a second run reuses everything and still succeeds
    assert main(['demo', '--quick', '--out', out, '--workers', '1']) == 0
    assert 'training already finished' in capsys.readouterr().out
