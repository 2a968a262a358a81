"""Periodic evaluation on the test split during training."""
import chainer
from chainer import reporter as reporter_module
from chainer.training import extensions

from gqn.data.context_query import ContextQuerySampler
from gqn.ops.random_state import fixed_seed


def prediction_mse(model, batch):
    """Per-element MSE of prior-sampled predictions of the query views.

    Args:
        model (gqn.GQN): The model.
        batch (dict): ``x_c, v_c, x_q, v_q`` as from :class:`ContextQuerySampler`.

    Returns:
        chainer.Variable: ``(B,)`` mean squared error per query image.
    """
    with chainer.no_backprop_mode(), chainer.using_config('train', False):
        mean = model.generate(batch['x_c'], batch['v_c'], batch['v_q'])
    xp = chainer.backend.get_array_module(mean)
    d = xp.clip(mean.array, 0, 1) - batch['x_q']
    return (d * d).reshape(len(d), -1).mean(axis=1)


class GQNEvaluator(extensions.Evaluator):
    """The training objective's terms and prior-sampled prediction MSE on a fixed test subset.

    The same scenes, context/query splits and latent samples are used at every
    evaluation (fixed seeds), so the curve measures the model, not the
    sampling noise; the training RNG stream is left untouched. Reports
    ``validation/main/{loss,nll,kl,mse,bpp}`` (of the loss link's objective,
    at the current sigma; no ``kl`` with ``'prior'``) and
    ``validation/main/prediction_mse`` (prior samples).

    Args:
        dataset (gqn.data.shard_dataset.ShardDataset): Test scenes.
        loss_fun (gqn.GQNLoss): The training loss link.
        sigma (callable): Returns the current pixel sigma.
        scenes (int): How many test scenes to use.
        batch_size (int): Scenes per batch.
        device: Chainer device.
        seed (int): Seed of the split and latent sampling.
    """

    default_name = 'validation'

    def __init__(self, dataset, loss_fun, sigma, scenes, batch_size, device, seed=0):
        n = min(scenes, len(dataset))
        it = chainer.iterators.SerialIterator(
            chainer.datasets.SubDataset(dataset, 0, n), batch_size, repeat=False,
            shuffle=False)
        super().__init__(it, loss_fun, device=device)
        self.views = dataset.views
        self.sigma = sigma
        self.seed = seed

    def evaluate(self):
        loss_fun = self.get_target('main')
        iterator = self.get_iterator('main')
        iterator.reset()
        sampler = ContextQuerySampler(self.views, seed=self.seed)
        summary = reporter_module.DictSummary()
        with fixed_seed(self.seed), chainer.no_backprop_mode():
            for scenes in iterator:
                batch = sampler(scenes, self.device)
                observation = {}
                with reporter_module.report_scope(observation):
                    loss_fun(sigma=self.sigma(), **batch)
                    mse = prediction_mse(loss_fun.model, batch)
                    chainer.report({'prediction_mse': mse.mean()}, loss_fun)
                summary.add(observation)
        return summary.compute_mean()
