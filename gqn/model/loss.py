"""The training objective of the GQN: the negative ELBO, with its parts reported."""
import math

import chainer
import chainer.functions as F

from gqn import ops


class GQNLoss(chainer.Chain):
    """Negative ELBO of a :class:`~gqn.model.gqn.GQN` (child link ``model``).

    ``loss`` = batch mean of [NLL of ``x_q`` under N(mean, sigma^2), summed
    over the 3 H W elements, + ``kl``], in nats per image. Reported with
    :func:`chainer.report` under this link's name:

    - ``loss``, ``nll``, ``kl``: nats per image (batch means);
    - ``mse``: mean squared error per element of the posterior mean image;
    - ``bpp``: ``loss / (ln 2 * H * W)``, bits per pixel (one pixel = its 3
      channels), the paper's unit.
    """

    def __init__(self, model):
        super().__init__()
        with self.init_scope():
            self.model = model

    def forward(self, x_c, v_c, x_q, v_q, sigma):
        """Args as :meth:`gqn.model.gqn.GQN.reconstruct`; ``sigma`` a Python float.
        With ``Q`` queries per scene, the batch means are over the ``B * Q`` queries.

        Returns:
            ~chainer.Variable: the scalar loss.
        """
        mean, kl = self.model.reconstruct(x_c, v_c, x_q, v_q)
        B, _, H, W = mean.shape
        x_q = F.cast(F.reshape(x_q, mean.shape), mean.dtype)
        nll = F.sum(ops.gaussian_nll(x_q, mean, sigma)) / B
        kl = F.sum(kl) / B
        loss = nll + kl
        mse = F.mean_squared_error(mean, x_q)
        chainer.report({'loss': loss, 'nll': nll, 'kl': kl, 'mse': mse,
                        'bpp': loss / (math.log(2) * H * W)}, self)
        return loss
