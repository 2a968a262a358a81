"""The ConvDRAW generator of the GQN: ``L`` steps of ConvLSTM cores writing a canvas."""
import chainer
import chainer.functions as F
from gqn import links

from gqn.core import ConvLSTMCore, invariant_gates, shares_transforms
from gqn.functions import gaussian_kl
from gqn.functions.concat_convolution_2d import TransformCache
from gqn.functions.stock_ops import stock_ops_enabled
from gqn.random_state import latent_noise
from gqn.representation import broadcast_viewpoint

# Channels of the query image after its 4x4 stride-4 downsampling (3 * 4 * 4:
# as many as the pixels it summarises).
X_DOWN_CHANNELS = 48
HEAD_KSIZE = 5


class GaussianHead(chainer.Chain):
    """A 5x5 conv from a core state to the mean and log-variance of ``z``."""

    def __init__(self, h_channels, z_channels):
        super().__init__()
        with self.init_scope():
            self.conv = links.Convolution2D(h_channels, 2 * z_channels, HEAD_KSIZE,
                                        pad=HEAD_KSIZE // 2)

    def forward(self, h):
        """``(B, h_channels, S, S) -> (mean, log-variance)``, each ``(B, z_channels, S, S)``."""
        mu, lv = F.split_axis(self.conv(h), 2, axis=1)
        return mu, lv


def sample_gaussian(mu, lv):
    """``mu + exp(lv / 2) * eps`` with ``eps`` from :data:`gqn.random_state.latent_noise`."""
    xp = chainer.backend.get_array_module(mu)
    eps = latent_noise.standard_normal(xp, mu.shape, mu.dtype)
    return mu + F.exp(0.5 * lv) * eps


class Generator(chainer.Chain):
    """ConvDRAW with a generation core (``h_g``) and an inference core (``h_e``).

    At step ``l``: the prior head reads ``h_g``; the inference core reads the
    query image (4x4/4 conv), the canvas ``u`` (4x4/4 conv), ``h_g``, ``v_q``
    and ``r``; the posterior head reads the *updated* ``h_e``; ``z`` is drawn
    from the posterior (or the prior without a query image); the generation
    core reads ``z``, ``v_q`` and ``r``; ``u`` accumulates a 4x4/4 transposed
    conv of the new ``h_g``. The mean image is a 1x1 conv of ``u``
    (unbounded). Heads, canvas write and downsamplers are shared by all
    steps; the cores are per step unless ``hp.shared_core``.

    Args:
        hp (~gqn.hyperparams.HyperParameters): sizes.
        hoist (bool): do the work on the step-invariant inputs once per
            forward pass (default) instead of convolving the full
            concatenation at every step: with unshared cores on NumPy their
            Winograd transform is shared by the steps
            (:meth:`ConvLSTMCore.shared_step`); otherwise their gate
            contribution is one convolution, stacked over the cores
            (:func:`gqn.core.invariant_gates`; a shared core computes it once
            for all steps). All give the same result.
    """

    def __init__(self, hp, hoist=True):
        super().__init__()
        self.hp = hp
        self.hoist = hoist
        h, k = hp.h_channels, hp.lstm_kernel_size
        vr = hp.viewpoint_size + hp.r_channels
        with self.init_scope():
            self.generation_cores = chainer.ChainList(*[
                ConvLSTMCore(hp.z_channels, vr, h, k) for _ in range(hp.num_cores)])
            self.inference_cores = chainer.ChainList(*[
                ConvLSTMCore(2 * h, X_DOWN_CHANNELS + vr, h, k) for _ in range(hp.num_cores)])
            self.prior = GaussianHead(h, hp.z_channels)
            self.posterior = GaussianHead(h, hp.z_channels)
            self.write = links.Deconvolution2D(h, hp.u_channels, 4, stride=4)
            self.downsample_x = links.Convolution2D(3, X_DOWN_CHANNELS, 4, stride=4)
            self.downsample_u = links.Convolution2D(hp.u_channels, h, 4, stride=4)
            self.observation = links.Convolution2D(hp.u_channels, 3, 1)

    def _core(self, cores, l):
        return cores[0 if self.hp.shared_core else l]

    def _steppers(self, cores, invariant):
        """One function ``(h, c, xs) -> (h, c)`` per step (``xs``: the per-step inputs)."""
        L_ = self.hp.generation_steps
        if not self.hoist:
            return [lambda h, c, xs, core=self._core(cores, l):
                    core(h, c, F.concat(xs, axis=1), invariant) for l in range(L_)]
        if len(cores) > 1 and shares_transforms(cores[0], invariant):
            cache = TransformCache()
            return [lambda h, c, xs, core=self._core(cores, l):
                    core.shared_step(h, c, xs, invariant, cache) for l in range(L_)]
        gates = invariant_gates(cores, invariant)
        return [lambda h, c, xs, core=self._core(cores, l), g=gates[0 if len(gates) == 1 else l]:
                core.step(h, c, F.concat(xs, axis=1), g) for l in range(L_)]

    def forward(self, v_q, r, x_q=None):
        """Run the ``L`` steps.

        Args:
            v_q (~chainer.Variable or array): query viewpoints ``(B, 7)``.
            r (~chainer.Variable): ``(B, r_channels, r_size, r_size)``.
            x_q (~chainer.Variable or array or None): query images
                ``(B, 3, H, W)`` in [0, 1]; ``None`` samples ``z`` from the prior.

        Returns:
            tuple: the mean image ``(B, 3, H, W)`` and the KL ``(B,)`` in nats
            (summed over steps and latent elements; ``None`` without ``x_q``).
        """
        hp = self.hp
        B, S = v_q.shape[0], hp.h_size
        xp = chainer.backend.get_array_module(v_q)
        dtype = self.observation.W.dtype
        if r.shape[2] != S:
            r = F.broadcast_to(r, r.shape[:2] + (S, S))
        vr = F.concat((broadcast_viewpoint(F.cast(v_q, dtype), S), r), axis=1)
        generation = self._steppers(self.generation_cores, vr)
        if x_q is not None:
            x_down = self.downsample_x(F.cast(x_q, dtype))
            inference = self._steppers(self.inference_cores, F.concat((x_down, vr), axis=1))
        zeros = xp.zeros((B, hp.h_channels, S, S), dtype=dtype)
        h_g = c_g = h_e = c_e = zeros
        u, write, read, image = self._canvas(B, S, xp, dtype)
        kl = None
        for l in range(hp.generation_steps):
            mu_p, lv_p = self.prior(h_g)
            if x_q is None:
                z = sample_gaussian(mu_p, lv_p)
            else:
                h_e, c_e = inference[l](h_e, c_e, (h_g, read(u)))
                mu_q, lv_q = self.posterior(h_e)
                z = sample_gaussian(mu_q, lv_q)
                kl_l = F.sum(gaussian_kl(mu_q, lv_q, mu_p, lv_p), axis=(1, 2, 3))
                kl = kl_l if kl is None else kl + kl_l
            h_g, c_g = generation[l](h_g, c_g, (z,))
            u = write(u, h_g)
        return self.observation(image(u)), kl

    def _canvas(self, B, S, xp, dtype):
        """The empty canvas ``u`` and its operations ``write(u, h_g)``, ``read(u)`` (the
        4x4/4 downsampling) and ``image(u)`` (``(B, u_channels, 4 S, 4 S)``).

        Inside :func:`gqn.functions.stock_ops` ``u`` is the canvas image and the
        operations are the links. Otherwise ``u`` is ``(sum of the h_g written, number
        of writes)``: the write is linear and the same at every step, so the canvas
        after ``n`` writes is ``write(h_1 + ... + h_n)`` with ``n`` times the bias, and
        its read is the sum through the ``(h_channels, h_channels)`` composition of
        the write and the read. The ``L`` steps then touch no ``4 S x 4 S`` canvas
        (no canvas-sized product, sum or saved input per step); the canvas becomes an
        image once, for the observation. Same parameters and values as the links
        (to float rounding: the sums are reassociated).
        """
        C, k = self.hp.u_channels, 4
        if stock_ops_enabled():
            return (xp.zeros((B, C, k * S, k * S), dtype=dtype),
                    lambda u, h: u + self.write(h), self.downsample_u, lambda u: u)
        # Both kernels as (h_channels, u_channels 4 4) matrices with columns (channel, row,
        # column); no transposed view of a parameter: its gradient would be a
        # non-contiguous array, which ChainerMN's all-reduce silently leaves unreduced.
        W_write = F.reshape(self.write.W, (-1, C * k * k))
        b_write = F.repeat(self.write.b, k * k)
        W_read = F.reshape(self.downsample_u.W, (-1, C * k * k))
        W_through = F.linear(W_write, W_read)  # (h, h): a write, then the read
        b_through = F.linear(F.expand_dims(b_write, 0), W_read)[0]  # one write bias, read

        def rows(h):  # (B, c, S, S) -> (B S S, c)
            return F.reshape(F.transpose(h, (0, 2, 3, 1)), (B * S * S, h.shape[1]))

        def write(u, h):
            total, n = u
            return total + h, n + 1

        def read(u):
            total, n = u
            d = F.bias(F.matmul(rows(total), W_through), self.downsample_u.b + n * b_through)
            return F.transpose(F.reshape(d, (B, S, S, -1)), (0, 3, 1, 2))

        def image(u):
            total, n = u
            patches = F.bias(F.matmul(rows(total), W_write), n * b_write)
            patches = F.transpose(F.reshape(patches, (B, S, S, C, k, k)), (0, 3, 1, 4, 2, 5))
            return F.reshape(patches, (B, C, k * S, k * S))

        return (xp.zeros((B, self.hp.h_channels, S, S), dtype=dtype), 0), write, read, image
