"""Training as users train: the global batch, non-finite gradients, K = 0, the progress bar."""
import datetime
import json
import os
import re

import numpy as np
import pytest

from gqn.data.context_query import ContextQuerySampler
from gqn.errors import GQNError
from gqn.testing.datasets import TINY_MODEL, read_npz, tiny_train_config
from gqn.training.trainer import build_trainer, rank_batch_size, train
from gqn.training.updater import NonFiniteGradientError


def tiny_config(dataset, **changes):
    return tiny_train_config(dataset, **{'eval_interval': 100, 'image_interval': 100, **changes})


def test_the_batch_is_global_and_the_run_records_its_processes(synthetic_dataset, tmp_path):
    assert rank_batch_size(16, 2) == 8 and rank_batch_size(16, 1) == 16
    with pytest.raises(GQNError, match='batch_size 3 .* over 2 processes'):
        rank_batch_size(3, 2)
    run = str(tmp_path / 'run')
    trainer = train(tiny_config(synthetic_dataset, iterations=2), run, quiet=True)
    assert trainer.updater.get_iterator('main').batch_size == 4
    with open(os.path.join(run, 'config.json')) as f:
        saved = json.load(f)
    assert saved['batch_size'] == 4 and saved['processes'] == 1
    assert saved['model']['logvar_bound'] == 20  # new runs: the bound on, and recorded


def overflow_log_variances(arrays, prefix=''):
    """Both heads output log-variance -88 (with the bound off: the loss stays finite,
    its gradient overflows float32, see tests/gqn/model/test_logvar_bound.py)."""
    for head in ('prior', 'posterior'):
        W = arrays[prefix + 'generator/%s/conv/W' % head]
        z = W.shape[0] // 2
        W[z:] = 0
        arrays[prefix + 'generator/%s/conv/b' % head][z:] = -88


def test_a_finite_loss_with_an_overflowing_gradient_stops_before_the_update(
        synthetic_dataset, tmp_path):
    config = tiny_config(synthetic_dataset, model={**TINY_MODEL, 'logvar_bound': 0})
    trainer = build_trainer(config, str(tmp_path / 'direct'), quiet=True)
    model = trainer.updater.get_optimizer('main').target.model
    overflow_log_variances({name.lstrip('/'): p.array for name, p in model.namedparams()})
    before = {name: p.array.copy() for name, p in model.namedparams()}
    with np.errstate(all='ignore'), pytest.raises(NonFiniteGradientError) as error:
        trainer.run(show_loop_exception_msg=False)
    message = str(error.value)
    assert re.search(r'the gradient of /model/generator/(prior|posterior)/conv/W became (inf|nan) '
                     r'at iteration 1 .* while the loss was finite', message), message
    assert 'parameters were not updated' in message and 'last snapshot' in message
    for name, p in model.namedparams():
        np.testing.assert_array_equal(p.array, before[name], err_msg=name)
    assert not os.path.exists(os.path.join(str(tmp_path / 'direct'), 'snapshots'))

    # through gqn train: a resumed run stops at once and writes nothing
    run = str(tmp_path / 'run')
    train(config.replace(iterations=2), run, quiet=True)
    snapshot = os.path.join(run, 'snapshots', 'snapshot_iter_2.npz')
    state = read_npz(snapshot)
    overflow_log_variances(state, 'updater/model:main/model/')
    np.savez(snapshot, **state)
    written = {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
               for d, _, files in os.walk(run) for f in files}
    with np.errstate(all='ignore'), pytest.raises(NonFiniteGradientError, match='iteration 3'):
        train(config, run, resume=True, quiet=True)
    assert sorted(os.listdir(os.path.join(run, 'snapshots'))) == [
        'hyperparams.json', 'snapshot_iter_2.npz']
    for path in ('model/model.npz', 'snapshots/snapshot_iter_2.npz'):
        assert os.stat(os.path.join(run, path)).st_mtime_ns == written[os.path.join(run, path)]


@pytest.fixture
def context_sizes(monkeypatch):
    """The K of every batch the samplers gather (a spy: the real gather runs)."""
    sizes = []
    gather = ContextQuerySampler.gather

    def recording(batch, context, query, device=None):
        sizes.append(context.shape[1])
        return gather(batch, context, query, device)
    monkeypatch.setattr(ContextQuerySampler, 'gather', staticmethod(recording))
    return sizes


def test_zero_context_rate_draws_batches_without_context(synthetic_dataset, tmp_path,
                                                          context_sizes):
    always = train(tiny_config(synthetic_dataset, zero_context_rate=1.0, iterations=3),
                   str(tmp_path / 'always'), quiet=True)
    assert context_sizes == [0, 0, 0]
    assert np.isfinite(always.observation['main/loss'].array)
    assert all(np.isfinite(p.grad).all()
               for p in always.updater.get_optimizer('main').target.model.generator.params())
    del context_sizes[:]
    train(tiny_config(synthetic_dataset, iterations=20), str(tmp_path / 'never'), quiet=True)
    assert len(context_sizes) == 20 and min(context_sizes) >= 1
    # at 0 the sampler draws nothing for it: the same stream as before the key existed
    a, b = ContextQuerySampler(5, seed=3), ContextQuerySampler(5, seed=3, zero_context_rate=0)
    for _ in range(5):
        for x, y in zip(a.sample_indices(4), b.sample_indices(4)):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(GQNError, match='zero_context_rate'):
        tiny_config(synthetic_dataset, zero_context_rate=1.5)


def test_zero_context_training_resumes_exactly(synthetic_dataset, tmp_path, context_sizes):
    changes = dict(zero_context_rate=0.5, iterations=8, snapshot_interval=4)
    whole = str(tmp_path / 'whole')
    train(tiny_config(synthetic_dataset, **changes), whole, quiet=True)
    assert 0 in context_sizes and max(context_sizes) > 0
    resumed = str(tmp_path / 'resumed')
    train(tiny_config(synthetic_dataset, **dict(changes, iterations=4)), resumed, quiet=True)
    train(tiny_config(synthetic_dataset, **changes), resumed, resume=True, quiet=True)
    a, b = (read_npz(os.path.join(run, 'model', 'model.npz')) for run in (whole, resumed))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def finish_times(printed):
    """The progress bar's estimated times to finish, in seconds."""
    times = []
    for h, m, s in re.findall(r'Estimated time to finish: (\d+):(\d\d):(\d\d(?:\.\d+)?)', printed):
        times.append(datetime.timedelta(hours=int(h), minutes=int(m), seconds=float(s)))
    return [t.total_seconds() for t in times]


def test_the_progress_bar_follows_whichever_limit_comes_first(synthetic_dataset, tmp_path,
                                                              capsys):
    train(tiny_config(synthetic_dataset, iterations=100000, minutes=0.04, snapshot_interval=1000,
                      log_interval=1000), str(tmp_path / 'timed'), quiet=False)
    printed = capsys.readouterr().out
    assert '/ 100000 iterations\n' not in printed  # (the first draw, before a rate: both)
    assert re.search(r'\d+ iter, \d+ epoch / 0.04 minutes \(about \d+ iterations at this rate\)',
                     printed), printed[-2000:]
    times = finish_times(printed)
    assert times and max(times) <= 0.04 * 60

    train(tiny_config(synthetic_dataset, iterations=4, minutes=30), str(tmp_path / 'counted'),
          quiet=False)
    printed = capsys.readouterr().out
    assert printed.count('/ 4 iterations\n') >= 2 and 'minutes (about' not in printed
    assert finish_times(printed) and max(finish_times(printed)) < 30 * 60
