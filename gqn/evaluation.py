"""``gqn eval``: ELBO terms and prediction error against baselines on a test split.

For each context size ``K = 1..K_max`` every evaluated scene gets the same
held-out query view and its context is the first ``K`` of one fixed random
order of the other views, so the rows of the table differ only in ``K``.
Three predictions of the query view are scored by per-pixel MSE (images in
[0, 1]):

- **model**: the GQN's mean image with latents sampled from the prior
  (clipped to [0, 1]);
- **nearest view**: the context image whose viewpoint vector is closest (in
  Euclidean distance over all 7 components) to the query's;
- **mean image**: the mean training image (all views of up to 1,000 train
  scenes).

The ELBO terms (NLL, KL, bits per pixel; nats per image) use the posterior
at the run's final pixel sigma.
"""
import os

DEFAULT_SCENES = 200


def configure_eval(p):
    p.add_argument('run', help='run directory, its model/ folder, or a snapshot .npz')
    p.add_argument('--dataset', help="dataset root (default: the run's dataset)")
    p.add_argument('--split', default='test', help='split to evaluate (default: %(default)s)')
    p.add_argument('--scenes', type=int, default=DEFAULT_SCENES,
                   help='scenes to evaluate (default: %(default)s)')
    p.add_argument('--max-context', type=int, default=0,
                   help='largest context size K (default: views - 1)')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--sigma', type=float, help="pixel sigma for the ELBO (default: the run's final)")
    p.add_argument('--device', default='@numpy', help='Chainer device specifier')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', help='output folder (default: <run>/eval)')


def nearest_context_view(x_c, v_c, v_q):
    """The context image whose viewpoint is nearest to the query's.

    Args:
        x_c (numpy.ndarray): ``(B, K, 3, H, W)`` context images.
        v_c (numpy.ndarray): ``(B, K, 7)`` context viewpoints.
        v_q (numpy.ndarray): ``(B, 7)`` query viewpoints.

    Returns:
        numpy.ndarray: ``(B, 3, H, W)``, for each scene the context image
        minimising the Euclidean distance between viewpoint vectors (the
        first one on ties).
    """
    import numpy as np
    d = np.linalg.norm(v_c - v_q[:, None, :], axis=2)
    return x_c[np.arange(len(x_c)), d.argmin(axis=1)]


def mean_image(root, split='train', scenes=1000):
    """Mean image ``(3, H, W)`` float32 of all views of the first ``scenes`` scenes."""
    import numpy as np
    from gqn.shard_dataset import ShardDataset
    ds = ShardDataset(root, split)
    n = min(scenes, len(ds))
    total = sum(ds[i][0].mean(axis=0) for i in range(n))
    return (total / n).astype(np.float32)


def _mse(a, b):
    d = a - b
    return (d * d).reshape(len(d), -1).mean(axis=1)


def evaluate(model, dataset, max_context=0, scenes=DEFAULT_SCENES, batch_size=32,
             sigma=0.7, seed=0, device=None, baseline_image=None, progress=True):
    """Score ``model`` on ``dataset`` for ``K = 1..max_context``.

    Returns:
        dict: ``rows`` (one dict per K: ``K``, ``model_mse``,
        ``nearest_view_mse``, ``mean_image_mse``, ``nll``, ``kl``, ``loss``,
        ``bpp``), the settings, and ``beats_nearest_view`` (list of K where the
        model's MSE is lower).
    """
    import chainer
    import numpy as np
    from tqdm import tqdm
    from gqn.loss import GQNLoss
    from gqn.random_state import fixed_seed

    device = device or chainer.get_device('@numpy')
    xp = device.xp
    views = dataset.views
    max_context = max_context or views - 1
    if not 1 <= max_context <= views - 1:
        from gqn.errors import GQNError
        raise GQNError('max context must be in 1..%d for %d-view scenes' % (views - 1, views))
    n = min(scenes, len(dataset))
    orders = np.argsort(np.random.RandomState(seed).random_sample((n, views)), axis=1)
    loss_fun = GQNLoss(model)
    rows = []
    bar = tqdm(total=max_context * n, desc='eval', unit='scene', disable=not progress)
    for k in range(1, max_context + 1):
        sums = dict.fromkeys(('model_mse', 'nearest_view_mse', 'mean_image_mse', 'nll', 'kl',
                              'loss', 'bpp'), 0.0)
        for start in range(0, n, batch_size):
            idx = range(start, min(start + batch_size, n))
            x = np.stack([dataset[i][0] for i in idx])
            v = np.stack([dataset[i][1] for i in idx])
            order = orders[start:start + len(idx)]
            rows_i = np.arange(len(idx))[:, None]
            x_c, v_c = x[rows_i, order[:, 1:k + 1]], v[rows_i, order[:, 1:k + 1]]
            x_q, v_q = x[rows_i[:, 0], order[:, 0]], v[rows_i[:, 0], order[:, 0]]
            batch = {key: device.send(a) for key, a in
                     (('x_c', x_c), ('v_c', v_c), ('x_q', x_q), ('v_q', v_q))}
            observation = {}
            reporter = chainer.Reporter()
            reporter.add_observer('main', loss_fun)
            with fixed_seed(seed + k, xp), chainer.no_backprop_mode(), \
                    chainer.using_config('train', False), reporter.scope(observation):
                loss_fun(sigma=sigma, **batch)
                pred = model.generate(batch['x_c'], batch['v_c'], batch['v_q']).array
            pred = np.clip(chainer.backend.CpuDevice().send(pred), 0, 1)
            m = len(idx)
            sums['model_mse'] += _mse(pred, x_q).sum()
            sums['nearest_view_mse'] += _mse(nearest_context_view(x_c, v_c, v_q), x_q).sum()
            if baseline_image is not None:
                sums['mean_image_mse'] += _mse(np.broadcast_to(baseline_image, x_q.shape), x_q).sum()
            for key in ('nll', 'kl', 'loss', 'bpp'):
                sums[key] += float(observation['main/' + key].array) * m
            bar.update(m)
        row = {'K': k, **{key: value / n for key, value in sums.items()}}
        if baseline_image is None:
            row['mean_image_mse'] = None
        rows.append(row)
    bar.close()
    return {'scenes': n, 'views': views, 'sigma': sigma, 'seed': seed, 'rows': rows,
            'beats_nearest_view': [r['K'] for r in rows
                                   if r['model_mse'] < r['nearest_view_mse']],
            'beats_mean_image': [r['K'] for r in rows if r['mean_image_mse'] is not None
                                 and r['model_mse'] < r['mean_image_mse']]}


def markdown_table(result):
    """The result of :func:`evaluate` as a Markdown table with a verdict line."""
    lines = ['| K | model MSE | nearest-view MSE | mean-image MSE | NLL (nats) | KL (nats) | bits/pixel |',
             '|---|---|---|---|---|---|---|']
    for r in result['rows']:
        mean = '—' if r['mean_image_mse'] is None else '%.5f' % r['mean_image_mse']
        lines.append('| %d | %.5f | %.5f | %s | %.1f | %.2f | %.3f |' % (
            r['K'], r['model_mse'], r['nearest_view_mse'], mean, r['nll'], r['kl'], r['bpp']))
    lines += ['', verdict(result)]
    return '\n'.join(lines) + '\n'


def verdict(result):
    """Sentences saying where the model beats each baseline, and where it does not."""
    all_k = [r['K'] for r in result['rows']]

    def where(ks, name):
        if ks == all_k:
            return 'The model beats the %s baseline at every K (1..%d).' % (name, all_k[-1])
        if not ks:
            return 'The model does NOT beat the %s baseline at any K.' % name
        return 'The model beats the %s baseline only at K = %s; it does NOT at K = %s.' % (
            name, ', '.join(map(str, ks)), ', '.join(str(k) for k in all_k if k not in ks))
    text = where(result['beats_nearest_view'], 'nearest-context-view')
    if all(r['mean_image_mse'] is not None for r in result['rows']):
        text += ' ' + where(result['beats_mean_image'], 'mean-image')
        if not result['beats_mean_image']:
            text += (' A prediction no better than the mean image has not learned the scenes '
                     'yet: train longer or on more scenes.')
    return text + ' (%d held-out scenes.)' % result['scenes']


def prediction_figure(model, dataset, path, scenes=4, context=3, seed=0, device=None):
    """PNG rows of context | truth | prediction | nearest view for a few scenes."""
    import chainer
    from gqn.context_query import ContextQuerySampler
    from gqn.prediction_grid import prediction_rows, save_png, tile, to_uint8
    from gqn.random_state import fixed_seed
    device = device or chainer.get_device('@numpy')
    examples = [dataset[i] for i in range(min(scenes, len(dataset)))]
    sampler = ContextQuerySampler(dataset.views, seed=seed,
                                  fixed_context=min(context, dataset.views - 1))
    batch = sampler(examples)
    nearest = to_uint8(nearest_context_view(batch['x_c'], batch['v_c'], batch['v_q']))
    with fixed_seed(seed, device.xp):
        rows = prediction_rows(model, {k: device.send(v) for k, v in batch.items()})
    save_png(path, tile([r + [nearest[i]] for i, r in enumerate(rows)]), scale=2)


def run_eval(args):
    import json
    import chainer
    from gqn import shards
    from gqn.errors import GQNError
    from gqn.shard_dataset import ShardDataset
    from gqn.snapshot import load_trained
    from gqn.train_config import TrainConfig

    model, run_dir = load_trained(args.run)
    config = None
    if run_dir and os.path.exists(os.path.join(run_dir, 'config.json')):
        config = TrainConfig.from_json(os.path.join(run_dir, 'config.json'))
    root = args.dataset or (config.dataset if config else None)
    if not root:
        raise GQNError('no dataset: pass --dataset ROOT')
    sigma = args.sigma or (config.sigma_end if config else 0.7)
    device = chainer.get_device(args.device)
    device.use()
    model.to_device(device)
    dataset = ShardDataset(root, args.split)
    dataset.check_compatible(model.hp)
    baseline = (mean_image(root) if 'train' in shards.list_splits(root) else None)
    result = evaluate(model, dataset, args.max_context, args.scenes, args.batch_size, sigma,
                      args.seed, device, baseline)
    result.update(run=args.run, dataset=root, split=args.split)
    out = args.out or os.path.join(run_dir or os.path.dirname(os.path.abspath(args.run)), 'eval')
    os.makedirs(out, exist_ok=True)
    shards.atomic_write_json(os.path.join(out, 'eval.json'), result)
    table = markdown_table(result)
    with open(os.path.join(out, 'eval.md'), 'w') as f:
        f.write('# Evaluation of %s on %s (%s split)\n\n' % (args.run, root, args.split) + table)
    prediction_figure(model, dataset, os.path.join(out, 'predictions.png'), seed=args.seed,
                      device=device)
    print(table)
    print('wrote %s, %s and %s' % tuple(os.path.join(out, f) for f in
                                        ('eval.json', 'eval.md', 'predictions.png')))
