import json
import os

import numpy as np

from gqn.cli import main
from gqn.evaluation import nearest_context_view
from gqn.train_config import TrainConfig
from gqn.training import train
from tiny_gqn import TINY_MODEL


def test_nearest_context_view_hand_made():
    x_c = np.arange(2 * 3 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 3, 1, 1)
    v_c = np.zeros((2, 3, 7), np.float32)
    v_c[0, :, 0] = [0, 5, 10]          # scene 0: query at x=6 -> view 1
    v_c[1, :, 6] = [1, -1, 0.2]        # scene 1: query sin pitch=-0.8 -> view 1
    v_q = np.zeros((2, 7), np.float32)
    v_q[0, 0] = 6
    v_q[1, 6] = -0.8
    near = nearest_context_view(x_c, v_c, v_q)
    np.testing.assert_array_equal(near[0], x_c[0, 1])
    np.testing.assert_array_equal(near[1], x_c[1, 1])
    v_q[1, 6] = 0.3                    # now view 2 (0.2) is nearest
    np.testing.assert_array_equal(nearest_context_view(x_c, v_c, v_q)[1], x_c[1, 2])


def test_eval_writes_json_markdown_and_png(synthetic_dataset, tmp_path, capsys):
    run = str(tmp_path / 'run')
    train(TrainConfig(dataset=synthetic_dataset, model=TINY_MODEL, batch_size=4, iterations=4,
                      sigma_steps=4), run, quiet=True)
    assert main(['eval', run, '--scenes', '10', '--batch-size', '4']) == 0
    with open(os.path.join(run, 'eval', 'eval.json')) as f:
        result = json.load(f)
    assert result['scenes'] == 10 and result['views'] == 5 and result['sigma'] == 0.7
    assert [r['K'] for r in result['rows']] == [1, 2, 3, 4]
    for r in result['rows']:
        assert set(r) == {'K', 'model_mse', 'nearest_view_mse', 'mean_image_mse', 'nll', 'kl',
                          'loss', 'bpp'}
        assert all(np.isfinite(v) and v >= 0 for v in r.values())
        np.testing.assert_allclose(r['loss'], r['nll'] + r['kl'], rtol=1e-5)
        np.testing.assert_allclose(r['bpp'], r['loss'] / (np.log(2) * 16 * 16), rtol=1e-5)
    # more context views can only bring the nearest one closer
    nearest = [r['nearest_view_mse'] for r in result['rows']]
    assert nearest[-1] < nearest[0]
    # the mean-image baseline does not depend on K
    assert len({round(r['mean_image_mse'], 9) for r in result['rows']}) == 1
    assert result['beats_nearest_view'] == [r['K'] for r in result['rows']
                                            if r['model_mse'] < r['nearest_view_mse']]
    assert result['beats_mean_image'] == [r['K'] for r in result['rows']
                                          if r['model_mse'] < r['mean_image_mse']]
    md = open(os.path.join(run, 'eval', 'eval.md')).read()
    assert md.count('\n| ') == 5 and 'nearest-context-view baseline' in md
    assert 'mean-image baseline' in md and '(10 held-out scenes.)' in md
    assert os.path.getsize(os.path.join(run, 'eval', 'predictions.png')) > 0
    assert 'nearest-context-view' in capsys.readouterr().out
