"""The training objective of the GQN: the negative ELBO, with its parts reported."""
import math

import chainer
import chainer.functions as F

from gqn import ops
from gqn.model.hyperparams import check_objective


class GQNLoss(chainer.Chain):
    """Negative ELBO of a :class:`~gqn.model.gqn.GQN` (child link ``model``).

    ``loss`` = batch mean of [NLL of ``x_q`` under N(mean, sigma^2), summed
    over the 3 H W elements, + ``kl``], in nats per image. Reported with
    :func:`chainer.report` under this link's name:

    - ``loss``, ``nll``, ``kl``: nats per image (batch means);
    - ``mse``: mean squared error per element of the posterior mean image;
    - ``bpp``: ``loss / (ln 2 * H * W)``, bits per pixel (one pixel = its 3
      channels), the paper's unit.

    Args:
        model (~gqn.model.gqn.GQN): the model.
        objective (str): ``'elbo'`` (the paper's, default) or ``'prior'``:
            the NLL of the query under the mean image generated with ``z``
            drawn from the *prior* (:meth:`~gqn.model.gqn.GQN.generate`),
            the way predictions are made. It skips the inference core (about
            two thirds of the generator's work at ``cpu_hour``'s sizes), trains
            neither it nor the posterior head, and reports no ``kl``; ``mse``
            is then the prior sample's. It is the limit the ELBO reaches when
            the KL keeps the posterior at the prior (sigma held at 2.0 within an
            hour: KL ~0.001 nats); latents in use need ``'elbo'``. Its value
            equals the ELBO's when the posterior equals the prior, but its gradients
            differ: the ELBO's reconstruction term takes ``z`` from the posterior (which
            reads the query image) and its KL term trains the posterior; this one takes
            ``z`` from the prior alone. With sigma fixed it is a deterministic
            regression: the scaled squared error of the prior prediction against the
            dataset's view.
    """

    def __init__(self, model, objective='elbo'):
        super().__init__()
        check_objective(objective)
        self.objective = objective
        with self.init_scope():
            self.model = model

    def forward(self, x_c, v_c, x_q, v_q, sigma):
        """Args as :meth:`gqn.model.gqn.GQN.reconstruct`; ``sigma`` a Python float.
        With ``Q`` queries per scene, the batch means are over the ``B * Q`` queries.

        Returns:
            ~chainer.Variable: the scalar loss.
        """
        if self.objective == 'prior':
            mean, kl = self.model.generate(x_c, v_c, v_q), None
        else:
            mean, kl = self.model.reconstruct(x_c, v_c, x_q, v_q)
        B, _, H, W = mean.shape
        x_q = F.cast(F.reshape(x_q, mean.shape), mean.dtype)
        nll = F.sum(ops.gaussian_nll(x_q, mean, sigma)) / B
        parts = {'nll': nll}
        if kl is not None:
            parts['kl'] = F.sum(kl) / B
        loss = sum(parts.values())
        chainer.report({'loss': loss, **parts, 'mse': F.mean_squared_error(mean, x_q),
                        'bpp': loss / (math.log(2) * H * W)}, self)
        return loss
