"""``gqn eval``: ELBO terms and prediction error against baselines on a test split.

For each context size ``K = 0..K_max`` every evaluated scene gets the same
held-out query view and its context is the first ``K`` of one fixed random
order of the other views (row ``i`` of one stream drawn from ``seed``: it
depends neither on the batch nor on the number of scenes), so the rows of the
table differ only in ``K``. ``K = 0`` is the model with no observation
(``r = 0``): what it has learned of all scenes. The latent noise of scene
``i`` at ``K`` is keyed by ``(seed, i, K)`` alone
(:meth:`~gqn.ops.random_state.LatentNoise.keyed_rows`), so every figure is
the same whatever the batch size (to float32 rounding). Predictions of the query view are scored
by per-pixel MSE (images in [0, 1]):

- **model**: the GQN's mean image with the latents drawn once from the prior
  (one sample, clipped to [0, 1]); with a 95 % bootstrap interval over the
  scenes and as PSNR (``10 log10(1 / MSE)``, dB);
- **mean of N samples**: the average of ``N`` such prior samples (a hedge:
  it trades sharpness for squared error);
- **mean image**: the mean training image of the *run's* training data (all
  views of up to 1,000 train scenes), whatever dataset is evaluated;
- **black**: an all-black image (the mean of the squared pixel values);
- **nearest view**: the context image whose viewpoint vector is closest (in
  Euclidean distance over all 7 components) to the query's. A low bar: with
  one context view it scores worse than the black image on Shepard-Matzler
  scenes. None at ``K = 0``.

The ELBO terms (NLL, KL, bits per pixel; nats per image) use the posterior
at the run's final pixel sigma.
"""
import os

DEFAULT_SCENES = 200
DEFAULT_MEAN_SAMPLES = 4
BOOTSTRAP_RESAMPLES = 2000


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

    from gqn.data.shard_dataset import ShardDataset
    ds = ShardDataset(root, split)
    n = min(scenes, len(ds))
    total = sum(ds[i][0].mean(axis=0) for i in range(n))
    return (total / n).astype(np.float32)


def per_scene_mse(a, b):
    """Per-pixel MSE of each image: ``(B, ...)`` and ``(B, ...)`` (or broadcastable) → ``(B,)``."""
    import numpy as np
    a, b = np.broadcast_arrays(a, b)
    d = a - b
    return (d * d).reshape(len(d), -1).mean(axis=1)


def bootstrap_interval(values, level=0.95, resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Percentile bootstrap interval of the mean of ``values`` (resampling the entries).

    Returns:
        tuple: ``(low, high)`` floats; both equal the value for a single entry.
    """
    import numpy as np
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.RandomState(seed)
    means = values[rng.randint(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def psnr(mse):
    """Peak signal-to-noise ratio in dB of a per-pixel MSE of images in [0, 1]."""
    import math
    return 10 * math.log10(1 / mse) if mse > 0 else float('inf')


def evaluate(model, dataset, max_context=None, scenes=DEFAULT_SCENES, batch_size=32,
             sigma=0.7, seed=0, device=None, baseline_image=None, progress=True,
             mean_samples=DEFAULT_MEAN_SAMPLES, objective='elbo'):
    """Score ``model`` on ``dataset`` for ``K = 0..max_context``.

    The result does not depend on ``batch_size`` beyond float32 rounding (a
    batched forward pass, the batch means of the ELBO terms; about 1e-7
    relative): each scene's context, query and latent noise depend on
    ``seed``, the scene and ``K`` only.

    Returns:
        dict: ``rows``, one dict per K with ``K``, ``model_mse`` (one prior
        sample), ``model_mse_ci`` (95 % bootstrap interval over scenes),
        ``model_psnr``, ``sample_mean_mse`` (the average of ``mean_samples``
        prior samples), ``nearest_view_mse`` (``None`` at ``K = 0``),
        ``mean_image_mse`` and ``ratio_to_mean_image`` (``None`` without
        ``baseline_image``), ``black_mse``, ``nll``, ``kl``, ``loss``, ``bpp``;
        the settings; and the lists ``beats_nearest_view`` and
        ``beats_mean_image`` of the K where the model's MSE is lower. ``nll``,
        ``loss`` and ``bpp`` are of the training ``objective``
        (:class:`~gqn.model.loss.GQNLoss`); with ``'prior'`` (a run trained
        without its inference core) ``kl`` is ``None``.
    """
    import chainer
    import numpy as np
    from tqdm import tqdm

    from gqn.errors import GQNError
    from gqn.model.loss import GQNLoss
    from gqn.ops.random_state import latent_noise

    device = device or chainer.get_device('@numpy')
    views = dataset.views
    max_context = views - 1 if max_context is None else max_context
    if not 1 <= max_context <= views - 1:
        raise GQNError('max context must be in 1..%d for %d-view scenes' % (views - 1, views))
    if scenes < 1 or batch_size < 1 or mean_samples < 1:
        raise GQNError('scenes, batch size and mean samples must be at least 1')
    n = min(scenes, len(dataset))
    orders = np.argsort(np.random.RandomState(seed).random_sample((n, views)), axis=1)
    loss_fun = GQNLoss(model, objective)
    cpu = chainer.backend.CpuDevice()
    rows = []
    bar = tqdm(total=(max_context + 1) * n, desc='eval', unit='scene', disable=not progress)
    for k in range(max_context + 1):
        errors = {key: [] for key in ('model', 'sample_mean', 'nearest_view', 'mean_image',
                                      'black')}
        sums = dict.fromkeys(('nll', 'kl', 'loss', 'bpp'), 0.0)
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
            samples = []
            with latent_noise.keyed_rows([(seed, i, k) for i in idx]), \
                    chainer.no_backprop_mode(), chainer.using_config('train', False), \
                    reporter.scope(observation):
                loss_fun(sigma=sigma, **batch)
                for _ in range(mean_samples):
                    pred = model.generate(batch['x_c'], batch['v_c'], batch['v_q']).array
                    samples.append(np.clip(cpu.send(pred), 0, 1))
            errors['model'].append(per_scene_mse(samples[0], x_q))
            errors['sample_mean'].append(per_scene_mse(np.mean(samples, axis=0), x_q))
            if k:
                errors['nearest_view'].append(
                    per_scene_mse(nearest_context_view(x_c, v_c, v_q), x_q))
            errors['black'].append(per_scene_mse(x_q, 0))
            if baseline_image is not None:
                errors['mean_image'].append(per_scene_mse(baseline_image, x_q))
            for key in sums:
                if sums[key] is not None and 'main/' + key in observation:
                    sums[key] += float(observation['main/' + key].array) * len(idx)
                else:
                    sums[key] = None
            bar.update(len(idx))
        errors = {key: np.concatenate(e) if e else None for key, e in errors.items()}
        means = {key: None if e is None else float(e.mean()) for key, e in errors.items()}
        model_mse = means['model']
        rows.append({
            'K': k, 'model_mse': model_mse,
            'model_mse_ci': list(bootstrap_interval(errors['model'], seed=seed)),
            'model_psnr': psnr(model_mse),
            'sample_mean_mse': means['sample_mean'],
            'nearest_view_mse': means['nearest_view'],
            'mean_image_mse': means['mean_image'],
            'ratio_to_mean_image': (None if means['mean_image'] is None
                                    else model_mse / means['mean_image']),
            'black_mse': means['black'],
            **{key: None if value is None else value / n for key, value in sums.items()}})
    bar.close()
    return {'scenes': n, 'views': views, 'sigma': sigma, 'seed': seed,
            'mean_samples': mean_samples, 'rows': rows,
            'beats_nearest_view': [r['K'] for r in rows if r['nearest_view_mse'] is not None
                                   and r['model_mse'] < r['nearest_view_mse']],
            'beats_mean_image': [r['K'] for r in rows if r['mean_image_mse'] is not None
                                 and r['model_mse'] < r['mean_image_mse']]}


def markdown_table(result):
    """The result of :func:`evaluate` as a Markdown table with a verdict line."""
    n = result['mean_samples']
    lines = ['| K | model MSE (95 %% CI) | PSNR (dB) | × mean image | mean of %d samples | '
             'mean-image MSE | black MSE | nearest-view MSE | NLL (nats) | KL (nats) | '
             'bits/pixel |' % n,
             '|---|---|---|---|---|---|---|---|---|---|---|']

    def num(value, fmt='%.5f'):
        return '—' if value is None else fmt % value
    for r in result['rows']:
        lines.append('| %d | %.5f (%.5f–%.5f) | %.2f | %s | %.5f | %s | %.5f | %s | %.1f | '
                     '%s | %.3f |' % (
                         r['K'], r['model_mse'], r['model_mse_ci'][0], r['model_mse_ci'][1],
                         r['model_psnr'], num(r['ratio_to_mean_image'], '%.3f'),
                         r['sample_mean_mse'], num(r['mean_image_mse']), r['black_mse'],
                         num(r['nearest_view_mse']), r['nll'], num(r['kl'], '%.2f'), r['bpp']))
    lines += ['', verdict(result)]
    return '\n'.join(lines) + '\n'


def _k_list(ks):
    return ', '.join(map(str, ks))


def verdict(result):
    """Sentences on the model against the mean image (with the interval), the trend in K,
    the model with no context (``K = 0``) and the nearest-view baseline.

    The sentences on the mean image, the trend and the nearest view speak of the rows
    with context (``K >= 1``); the ``K = 0`` row, when there is one, gets its own.
    """
    rows = [r for r in result['rows'] if r['K'] > 0]
    zero = next((r for r in result['rows'] if r['K'] == 0), None)
    all_k = [r['K'] for r in rows]
    text = []
    if all(r['mean_image_mse'] is not None for r in rows):
        below = [r['K'] for r in rows if r['model_mse_ci'][1] < r['mean_image_mse']]
        above = [r['K'] for r in rows if r['model_mse_ci'][0] > r['mean_image_mse']]
        best = min(rows, key=lambda r: r['ratio_to_mean_image'])
        text.append('Best: %.3f × the mean image\'s MSE at K = %d (%.5f, 95 %% CI %.5f–%.5f, '
                    'against %.5f).' % (best['ratio_to_mean_image'], best['K'], best['model_mse'],
                                       best['model_mse_ci'][0], best['model_mse_ci'][1],
                                       best['mean_image_mse']))
        if below == all_k:
            text.append('The whole 95 %% interval is below the mean image at every K (1..%d).'
                        % all_k[-1])
        elif below:
            text.append('The whole 95 %% interval is below the mean image only at K = %s.'
                        % _k_list(below))
        else:
            text.append('At no K is the model clearly better than the mean image (its 95 % '
                        'interval reaches the baseline): it has not learned the scenes yet; '
                        'train longer or on more scenes.')
        if above:
            text.append('It is worse than the mean image at K = %s.' % _k_list(above))
    else:
        text.append('No mean-image baseline (the run\'s training data was not found).')
    if len(rows) > 1:
        first, last = rows[0]['model_mse'], rows[-1]['model_mse']
        if last < first:
            text.append('From K = %d to K = %d the MSE falls from %.5f to %.5f.'
                        % (all_k[0], all_k[-1], first, last))
        else:
            text.append('The MSE does NOT fall with more context (%.5f at K = %d, %.5f at '
                        'K = %d).' % (first, all_k[0], last, all_k[-1]))
    if zero is not None:
        ratio = ('' if zero['ratio_to_mean_image'] is None
                 else ' (%.3f × the mean image\'s)' % zero['ratio_to_mean_image'])
        helped = [r['K'] for r in rows if r['model_mse_ci'][1] < zero['model_mse']]
        text.append('With no context view (K = 0) the MSE is %.5f%s; ' % (zero['model_mse'], ratio)
                    + ('the context does NOT clearly help (at no K is the 95 % interval below '
                       'it).' if not helped else 'the 95 %% interval is below it at K = %s.'
                       % _k_list(helped)))
    near = [k for k in result['beats_nearest_view'] if k > 0]
    if near == all_k:
        text.append('It beats the nearest-context-view baseline at every K.')
    elif not near:
        text.append('It does NOT beat the nearest-context-view baseline at any K.')
    else:
        text.append('It beats the nearest-context-view baseline only at K = %s.' % _k_list(near))
    return ' '.join(text) + ' (%d held-out scenes.)' % result['scenes']


def prediction_figure(model, dataset, path, scenes=4, context=3, seed=0, device=None):
    """PNG rows of context | truth | prediction | nearest view for a few scenes."""
    import chainer

    from gqn.data.context_query import ContextQuerySampler
    from gqn.data.image_grid import save_png, tile, to_uint8
    from gqn.ops.random_state import fixed_seed
    from gqn.training.prediction_grid import prediction_rows
    device = device or chainer.get_device('@numpy')
    examples = [dataset[i] for i in range(min(scenes, len(dataset)))]
    sampler = ContextQuerySampler(dataset.views, seed=seed,
                                  fixed_context=min(context, dataset.views - 1))
    batch = sampler(examples)
    nearest = to_uint8(nearest_context_view(batch['x_c'], batch['v_c'], batch['v_q']))
    with fixed_seed(seed):
        rows = prediction_rows(model, {k: device.send(v) for k, v in batch.items()})
    save_png(path, tile([r + [nearest[i]] for i, r in enumerate(rows)]), scale=2)


def baseline_dataset(config, root):
    """The dataset whose train split gives the mean-image baseline: the run's own
    training data (``config.dataset``) when it is there, else ``root``'s, else ``None``."""
    from gqn.data import shards
    for candidate in ([config.dataset] if config is not None else []) + [root]:
        if candidate and os.path.isdir(candidate) and 'train' in shards.list_splits(candidate):
            return candidate
    return None

