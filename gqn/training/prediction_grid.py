"""PNG grids of context views | ground truth | prediction."""
import os

import chainer
import numpy as np
from chainer import training

from gqn import files
from gqn.data.context_query import ContextQuerySampler
from gqn.ops.random_state import fixed_seed


def to_uint8(x):
    """float ``(..., 3, H, W)`` in [0, 1] (NumPy or CuPy) → uint8 ``(..., H, W, 3)``."""
    x = chainer.backend.CpuDevice().send(x)
    x = np.clip(np.moveaxis(x, -3, -1), 0, 1)
    return (x * 255 + 0.5).astype(np.uint8)


def tile(rows, pad=2, background=64):
    """Tile a ragged list of rows of uint8 ``(H, W, 3)`` images into one image."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3),
                  background, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            if img is not None:
                y, x = pad + i * (h + pad), pad + j * (w + pad)
                out[y:y + h, x:x + w] = img
    return out


def save_png(path, image, scale=1):
    """Write uint8 ``(H, W, 3)`` to ``path`` (nearest-neighbour upscaled)."""
    from PIL import Image
    img = Image.fromarray(image)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    files.atomic_write(path, lambda f: img.save(f, format='PNG'))


def prediction_rows(model, batch):
    """One row per scene: its context views, the true query view, the prediction."""
    with chainer.no_backprop_mode(), chainer.using_config('train', False):
        mean = model.generate(batch['x_c'], batch['v_c'], batch['v_q'])
    context = to_uint8(batch['x_c'])
    truth = to_uint8(batch['x_q'])
    pred = to_uint8(mean.array)
    return [list(context[i]) + [None, truth[i], pred[i]] for i in range(len(truth))]


class PredictionGrid(training.Extension):
    """Write ``<run>/images/predictions_iter_<N>.png`` for a few test scenes.

    Each row: the context views, a gap, the true query view, the model's
    prediction (mean image, latents sampled from the prior). Fixed scenes,
    splits and seeds, so successive images are comparable.
    """

    def __init__(self, dataset, model, device, scenes=4, context=3, seed=0):
        self.examples = [dataset[i] for i in range(min(scenes, len(dataset)))]
        self.model = model
        self.device = device
        self.context = min(context, dataset.views - 1)
        self.seed = seed

    def __call__(self, trainer):
        sampler = ContextQuerySampler(len(self.examples[0][1]), seed=self.seed,
                                      fixed_context=self.context)
        batch = sampler(self.examples, self.device)
        with fixed_seed(self.seed):
            rows = prediction_rows(self.model, batch)
        d = os.path.join(trainer.out, 'images')
        os.makedirs(d, exist_ok=True)
        save_png(os.path.join(d, 'predictions_iter_%d.png' % trainer.updater.iteration),
                 tile(rows), scale=2)
