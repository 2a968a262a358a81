"""PNG grids of context views | ground truth | prediction."""
import os

import chainer
from chainer import training

from gqn.data.context_query import ContextQuerySampler
from gqn.data.image_grid import save_png, tile, to_uint8
from gqn.ops.random_state import fixed_seed


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
