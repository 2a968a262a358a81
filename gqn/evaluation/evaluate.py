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

**Objects and background.** Whole-image MSE can call a model that draws the
walls and floor of a room and drops its objects a success: the objects cover
a small share of the pixels. When the dataset has instance masks
(``<split>/masks/``, :attr:`~gqn.data.shard_dataset.ShardDataset.has_masks`),
each row also scores the model and every baseline on the query view's
*object pixels* (mask > 0) and *background pixels* (mask == 0) apart:

- **object-pixel MSE**: the squared error summed over every object pixel and
  channel of all evaluated scenes, divided by the number of those entries
  (pooled over scenes, so a scene whose objects cover a few pixels does not
  weigh as much as one they fill). Its 95 % bootstrap interval resamples the
  scenes and takes the ratio of the resampled sums. A scene whose query view
  shows no object contributes nothing to the object figures (it is left out of
  their resampling too); the object figures are ``None`` when no query view
  shows one. **Background-pixel MSE**: likewise for mask == 0.
- ``object_fraction``: the share of the evaluated query views' pixels that lie
  on objects.
- **empty scene**: the query view re-rendered from the stored scene spec with
  the objects removed (:func:`renderer.scene_spec.without_objects`): a perfect
  background with nothing in it, the score of a model that draws the room and
  drops the objects. It needs the scene specs and the manifest
  (``gqn render`` writes both) and OpenGL; it is rendered once per scene (the
  query view does not depend on ``K``). Its whole-image MSE is reported
  whenever it is rendered; on a correctly rendered dataset its background MSE
  is 0.

:func:`verdict` says whether the model draws the objects; the rule is in
:func:`object_sentences`.
"""
import os

DEFAULT_SCENES = 200
DEFAULT_MEAN_SAMPLES = 4
BOOTSTRAP_RESAMPLES = 2000
#: The predictions every scene's query view is scored on: the model (one prior sample), then
#: the baselines (``empty_scene`` only where it is rendered, ``nearest_view`` only at K >= 1).
PREDICTIONS = ('model', 'sample_mean', 'nearest_view', 'mean_image', 'black', 'empty_scene')
#: :func:`object_sentences`: the model draws the objects when the whole 95 % interval of its
#: object-pixel MSE is below this share of the empty scene's object-pixel MSE.
OBJECT_BAR = 0.5


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


def masked_squared_errors(prediction, truth, mask):
    """Per-scene sums of squared errors and entry counts on the object and background pixels.

    Args:
        prediction (numpy.ndarray): float ``(B, 3, H, W)``, or anything that broadcasts to
            ``truth`` (a mean image ``(3, H, W)``, ``0`` for the black image).
        truth (numpy.ndarray): float ``(B, 3, H, W)``, the query views.
        mask (numpy.ndarray): ``(B, H, W)`` object ids of the query views, any integer (or
            bool) dtype: > 0 an object's pixel, 0 the background.

    Returns:
        dict: ``'object'`` and ``'background'``, each a tuple ``(sse, count)`` of float64
        ``(B,)``, the squared error summed over the scene's pixels of that kind and every
        channel, and int64 ``(B,)``, the number of those entries (pixels × channels).
    """
    import numpy as np
    prediction, truth = np.broadcast_arrays(prediction, truth)
    d = prediction.astype(np.float64) - truth
    squared = (d * d).sum(axis=1).reshape(len(d), -1)         # (B, H * W), channels summed
    on = (np.asarray(mask) > 0).reshape(len(d), -1)           # (B, H * W)
    channels = truth.shape[1]
    return {'object': ((squared * on).sum(axis=1),
                       on.sum(axis=1).astype(np.int64) * channels),
            'background': ((squared * ~on).sum(axis=1),
                           (~on).sum(axis=1).astype(np.int64) * channels)}


def pooled_mse(sse, count):
    """The MSE pooled over scenes: ``sum(sse) / sum(count)``.

    Args:
        sse (numpy.ndarray): float ``(S,)`` per-scene sums of squared errors.
        count (numpy.ndarray): int ``(S,)`` per-scene numbers of entries summed.

    Returns:
        float or None: ``None`` when there is no entry (every count 0).
    """
    import numpy as np
    total = np.sum(count)
    return float(np.sum(sse, dtype=np.float64) / total) if total > 0 else None


def pooled_bootstrap_interval(sse, count, level=0.95, resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """Percentile bootstrap interval of :func:`pooled_mse`, resampling the scenes.

    Each resample draws scenes with replacement and takes the ratio of its sums. Scenes
    with no entry (count 0: say, no object in the query view) are left out: they add
    nothing to either sum.

    Args:
        sse (numpy.ndarray): float ``(S,)`` per-scene sums of squared errors.
        count (numpy.ndarray): int ``(S,)`` per-scene numbers of entries summed.

    Returns:
        tuple or None: ``(low, high)`` floats (both the value for a single scene), ``None``
        when there is no entry.
    """
    import numpy as np
    sse, count = np.asarray(sse, np.float64), np.asarray(count, np.float64)
    keep = count > 0
    if not keep.any():
        return None
    sse, count = sse[keep], count[keep]
    picks = np.random.RandomState(seed).randint(0, len(sse), size=(resamples, len(sse)))
    ratios = sse[picks].sum(axis=1) / count[picks].sum(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def ratio(a, b):
    """``a / b``, or ``None`` when either is ``None`` or ``b`` is 0."""
    return None if a is None or b is None or b == 0 else a / b


def pixel_set_figures(sums, seed=0):
    """The object- and background-pixel fields of one row of :func:`evaluate`.

    Args:
        sums (dict): for each name of :data:`PREDICTIONS` scored, the per-scene sums of
            all evaluated scenes, as :func:`masked_squared_errors` returns them
            (``(S,)`` arrays); a name absent or ``None``: not scored (its fields ``None``).
        seed (int): seed of the bootstrap interval.

    Returns:
        dict: ``object_fraction`` (share of the query views' pixels on objects);
        ``object_mse`` and ``background_mse`` of the model with their 95 % intervals
        ``object_mse_ci`` and ``background_mse_ci`` (lists); ``<name>_object_mse`` and
        ``<name>_background_mse`` for each baseline name of :data:`PREDICTIONS`;
        ``object_ratio_to_mean_image``, ``background_ratio_to_mean_image`` and
        ``object_ratio_to_empty_scene``. A figure with no pixels to score is ``None``.
    """
    model = sums['model']
    on, off = int(model['object'][1].sum()), int(model['background'][1].sum())
    row = {'object_fraction': on / (on + off)}
    for part in ('object', 'background'):
        row[part + '_mse'] = pooled_mse(*model[part])
        interval = pooled_bootstrap_interval(*model[part], seed=seed)
        row[part + '_mse_ci'] = None if interval is None else list(interval)
        for name in PREDICTIONS[1:]:
            scored = sums.get(name)
            row['%s_%s_mse' % (name, part)] = None if scored is None else pooled_mse(
                *scored[part])
        row[part + '_ratio_to_mean_image'] = ratio(row[part + '_mse'],
                                                   row['mean_image_%s_mse' % part])
    row['object_ratio_to_empty_scene'] = ratio(row['object_mse'], row['empty_scene_object_mse'])
    return row


def query_view_masks(dataset, query_views):
    """The instance masks of each scene's query view: uint8 ``(S, H, W)``.

    Args:
        dataset (~gqn.data.shard_dataset.ShardDataset): a dataset with masks.
        query_views (numpy.ndarray): int ``(S,)``, the query view of scene ``i``.
    """
    import numpy as np
    return np.stack([dataset.get_masks(i)[q] for i, q in enumerate(query_views)])


def empty_scene_views(dataset, query_views, view_renderer=None, progress=True):
    """Each scene's query view re-rendered with its objects removed (the empty scene).

    All views of the scene are rendered (a view's pixels depend on its place in the
    renderer's row, :class:`renderer.draw.ViewRenderer`) and the query view kept.

    Args:
        dataset (~gqn.data.shard_dataset.ShardDataset): a dataset with scene specs and a
            manifest (:attr:`~gqn.data.shard_dataset.ShardDataset.has_specs`).
        query_views (numpy.ndarray): int ``(S,)``, the query view of scene ``i``.
        view_renderer: an open renderer (:func:`renderer.dataset.open_view_renderer`) to
            use; by default one is opened and closed.

    Returns:
        numpy.ndarray: float32 ``(S, 3, H, W)`` in [0, 1].

    Raises:
        GQNError: no usable OpenGL, a malformed spec, or images of another size than the
            dataset's.
    """
    import numpy as np
    from tqdm import tqdm

    from gqn.data.shard_dataset import to_model_images
    from gqn.errors import GQNError
    from renderer.dataset import open_view_renderer, render_viewpoints
    from renderer.scene_spec import without_objects
    manifest = dataset.manifest
    own = view_renderer is None
    if own:
        view_renderer = open_view_renderer(manifest)
    try:
        images = []
        for i, q in enumerate(tqdm(query_views, desc='empty scenes', unit='scene',
                                   disable=not progress)):
            views = render_viewpoints(manifest, without_objects(dataset.get_spec(i)),
                                      dataset[i][1], view_renderer=view_renderer)
            images.append(views[q])
    finally:
        if own:
            view_renderer.close()
    images = to_model_images(np.stack(images))
    expected = (dataset.image_size, dataset.image_size)
    if images.shape[2:] != expected:
        raise GQNError('%s: the manifest renders %dx%d images, the shards hold %dx%d'
                       % (dataset.root, images.shape[3], images.shape[2], *expected))
    return images


def empty_scene_baseline(dataset, query_views, asked=True, progress=True):
    """:func:`empty_scene_views` with one renderer where it can be rendered, else a note.

    Returns:
        tuple: ``(images, note)``: float32 ``(S, 3, H, W)`` and ``None``, or ``None`` and a
        sentence saying why not (not asked for, no scene specs or manifest, no usable
        OpenGL).
    """
    from gqn.errors import GQNError
    if not asked:
        return None, 'not asked for'
    if dataset.manifest is None or not dataset.has_specs:
        return None, ('the dataset has no stored scene specs and manifest, which gqn render '
                      'writes')
    from renderer.dataset import open_view_renderer
    try:
        view_renderer = open_view_renderer(dataset.manifest)
    except GQNError as e:
        return None, 'cannot render: %s' % e
    try:
        return empty_scene_views(dataset, query_views, view_renderer, progress), None
    finally:
        view_renderer.close()


def psnr(mse):
    """Peak signal-to-noise ratio in dB of a per-pixel MSE of images in [0, 1]."""
    import math
    return 10 * math.log10(1 / mse) if mse > 0 else float('inf')


def evaluate(model, dataset, max_context=None, scenes=DEFAULT_SCENES, batch_size=32,
             sigma=0.7, seed=0, device=None, baseline_image=None, progress=True,
             mean_samples=DEFAULT_MEAN_SAMPLES, objective='elbo', empty_scene=True):
    """Score ``model`` on ``dataset`` for ``K = 0..max_context``.

    The result does not depend on ``batch_size`` beyond float32 rounding (a
    batched forward pass, the batch means of the ELBO terms; about 1e-7
    relative): each scene's context, query and latent noise depend on
    ``seed``, the scene and ``K`` only.

    Args:
        empty_scene (bool): render the empty-scene baseline where the dataset has scene
            specs and a manifest (the module docstring); it needs OpenGL.

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

        With instance masks (``masks`` true in the result) each row also has the fields
        of :func:`pixel_set_figures`. With masks or a rendered empty scene, each row has
        ``empty_scene_mse`` (whole image) and ``ratio_to_empty_scene`` (``None`` when it
        was not rendered). ``empty_scene_note`` says why the empty scene was not rendered
        (``None`` when it was). A dataset with neither: the rows are as above, no more.
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
    masks = query_view_masks(dataset, orders[:, 0]) if dataset.has_masks else None
    empty, empty_note = empty_scene_baseline(dataset, orders[:, 0], empty_scene, progress)
    loss_fun = GQNLoss(model, objective)
    cpu = chainer.backend.CpuDevice()
    rows = []
    bar = tqdm(total=(max_context + 1) * n, desc='eval', unit='scene', disable=not progress)
    for k in range(max_context + 1):
        errors = {key: [] for key in PREDICTIONS}
        pixel_sums = {key: [] for key in PREDICTIONS}
        sums = dict.fromkeys(('nll', 'kl', 'loss', 'bpp'), 0.0)
        for start in range(0, n, batch_size):
            idx = range(start, min(start + batch_size, n))
            here = slice(start, start + len(idx))
            x = np.stack([dataset[i][0] for i in idx])
            v = np.stack([dataset[i][1] for i in idx])
            order = orders[here]
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
            predictions = {
                'model': samples[0], 'sample_mean': np.mean(samples, axis=0),
                'nearest_view': nearest_context_view(x_c, v_c, v_q) if k else None,
                'mean_image': baseline_image, 'black': 0,
                'empty_scene': None if empty is None else empty[here]}
            for key, prediction in predictions.items():
                if prediction is None:
                    continue
                errors[key].append(per_scene_mse(prediction, x_q))
                if masks is not None:
                    pixel_sums[key].append(masked_squared_errors(prediction, x_q, masks[here]))
            for key in sums:
                if sums[key] is not None and 'main/' + key in observation:
                    sums[key] += float(observation['main/' + key].array) * len(idx)
                else:
                    sums[key] = None
            bar.update(len(idx))
        errors = {key: np.concatenate(e) if e else None for key, e in errors.items()}
        means = {key: None if e is None else float(e.mean()) for key, e in errors.items()}
        model_mse = means['model']
        row = {
            'K': k, 'model_mse': model_mse,
            'model_mse_ci': list(bootstrap_interval(errors['model'], seed=seed)),
            'model_psnr': psnr(model_mse),
            'sample_mean_mse': means['sample_mean'],
            'nearest_view_mse': means['nearest_view'],
            'mean_image_mse': means['mean_image'],
            'ratio_to_mean_image': ratio(model_mse, means['mean_image']),
            'black_mse': means['black'],
            **{key: None if value is None else value / n for key, value in sums.items()}}
        if masks is not None or empty is not None:
            row.update(empty_scene_mse=means['empty_scene'],
                       ratio_to_empty_scene=ratio(model_mse, means['empty_scene']))
        if masks is not None:
            row.update(pixel_set_figures({key: concatenate_sums(parts) for key, parts
                                          in pixel_sums.items()}, seed=seed))
        rows.append(row)
    bar.close()
    return {'scenes': n, 'views': views, 'sigma': sigma, 'seed': seed,
            'mean_samples': mean_samples, 'rows': rows, 'masks': masks is not None,
            'empty_scene_note': empty_note,
            'beats_nearest_view': [r['K'] for r in rows if r['nearest_view_mse'] is not None
                                   and r['model_mse'] < r['nearest_view_mse']],
            'beats_mean_image': [r['K'] for r in rows if r['mean_image_mse'] is not None
                                 and r['model_mse'] < r['mean_image_mse']]}


def concatenate_sums(parts):
    """The :func:`masked_squared_errors` of several batches as one (``None`` for none)."""
    import numpy as np
    if not parts:
        return None
    return {part: tuple(np.concatenate([p[part][j] for p in parts]) for j in range(2))
            for part in ('object', 'background')}


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
    if any('object_mse' in r for r in result['rows']):
        lines += [''] + object_table(result)
    lines += ['', verdict(result)]
    return '\n'.join(lines) + '\n'


def object_table(result):
    """The object- and background-pixel figures of :func:`evaluate` (with masks) as the
    lines of a Markdown table, one row per K."""
    def num(value, fmt='%.5f'):
        return '—' if value is None else fmt % value

    def with_ci(value, ci):
        return '—' if value is None else '%.5f (%.5f–%.5f)' % (value, ci[0], ci[1])
    lines = ['| K | object MSE (95 % CI) | × mean image (objects) | × empty scene (objects) | '
             'background MSE (95 % CI) | × mean image (background) | object fraction |',
             '|---|---|---|---|---|---|---|']
    for r in result['rows']:
        lines.append('| %d | %s | %s | %s | %s | %s | %.1f %% |' % (
            r['K'], with_ci(r['object_mse'], r['object_mse_ci']),
            num(r['object_ratio_to_mean_image'], '%.3f'),
            num(r['object_ratio_to_empty_scene'], '%.3f'),
            with_ci(r['background_mse'], r['background_mse_ci']),
            num(r['background_ratio_to_mean_image'], '%.3f'), 100 * r['object_fraction']))
    return lines


def _k_list(ks):
    return ', '.join(map(str, ks))


def verdict(result):
    """Sentences on the model against the mean image (with the interval), the trend in K,
    the model with no context (``K = 0``), the nearest-view baseline and, with instance
    masks, the objects' pixels (:func:`object_sentences`).

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
    text += object_sentences(result)
    return ' '.join(text) + ' (%d held-out scenes.)' % result['scenes']


def object_sentences(result):
    """Sentences on the objects' and the background's pixels, at the ``K >= 1`` where the
    model's object-pixel MSE is lowest (a list; empty without masks or empty scene).

    The rule: the model **draws the objects** when the upper end of the 95 % interval
    of its object-pixel MSE is below :data:`OBJECT_BAR` (0.5) × the empty scene's
    object-pixel MSE (it removes at least half of the error an empty room makes there,
    clearly) and below the mean image's object-pixel MSE. Otherwise it does NOT draw the
    objects much better than an empty room, and the sentence says which bar it misses.
    Without the empty scene (no scene specs) no such claim is made: the figures and the
    comparison with the mean image only. Without masks, the empty scene's whole-image MSE
    against the model's, where it was rendered.
    """
    rows = [r for r in result['rows'] if r['K'] > 0]
    if not any('object_mse' in r for r in rows):
        rendered = [r for r in rows if r.get('empty_scene_mse') is not None]
        if not rendered:
            return []
        best = min(rendered, key=lambda r: r['model_mse'])
        return ['The empty scene (the objects removed) scores %.5f at K = %d, the model %.3f × '
                'that (no instance masks: the objects\' pixels are not scored apart).'
                % (best['empty_scene_mse'], best['K'], best['ratio_to_empty_scene'])]
    rows = [r for r in rows if r['object_mse'] is not None]
    if not rows:
        return ['No evaluated query view shows an object: no object-pixel figures.']
    best = min(rows, key=lambda r: r['object_mse'])
    low, high = best['object_mse_ci']
    mean, empty = best['mean_image_object_mse'], best['empty_scene_object_mse']
    text = ("On the objects' pixels (%.1f %% of the query views) the model's MSE at K = %d is "
            "%.5f (95 %% CI %.5f–%.5f)" % (100 * best['object_fraction'], best['K'],
                                           best['object_mse'], low, high))
    if mean is not None:
        text += ', %.3f × the mean image\'s there (%.5f)' % (best['object_ratio_to_mean_image'],
                                                            mean)
    if empty is not None:
        text += ' and %.3f × the empty scene\'s (%.5f)' % (best['object_ratio_to_empty_scene'],
                                                          empty)
    mean_miss = None
    if mean is not None and low > mean:
        mean_miss = 'it is worse than the mean image there'
    elif mean is not None and high >= mean:
        mean_miss = 'its interval reaches the mean image\'s'
    if empty is None:
        text += (': whether it draws the objects needs the empty-scene baseline, not rendered '
                 'here: %s' % (result.get('empty_scene_note') or 'no reason given'))
        if mean is not None:
            text += '; %s' % (mean_miss or 'its whole interval is below the mean image\'s')
        text += '.'
    else:
        empty_miss = None
        if low > empty:
            empty_miss = 'it is worse than the empty scene there'
        elif high >= empty:
            empty_miss = 'its interval reaches the empty scene\'s'
        elif high >= OBJECT_BAR * empty:
            empty_miss = ('its interval is below the empty scene\'s but not below %g × it'
                          % OBJECT_BAR)
        misses = [m for m in (empty_miss, mean_miss) if m]
        if misses:
            text += (': it does NOT draw the objects much better than an empty room (%s).'
                     % '; '.join(misses))
        else:
            text += (': it draws the objects (the whole interval is below %g × the empty '
                     'scene\'s%s).' % (OBJECT_BAR, '' if mean is None
                                       else ' and below the mean image\'s'))
    sentences = [text]
    if best['background_mse'] is not None:
        bg_low, bg_high = best['background_mse_ci']
        sentences.append('On the background its MSE is %.5f (95 %% CI %.5f–%.5f)%s.' % (
            best['background_mse'], bg_low, bg_high,
            '' if best['background_ratio_to_mean_image'] is None else
            ', %.3f × the mean image\'s there' % best['background_ratio_to_mean_image']))
    return sentences


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

