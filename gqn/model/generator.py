"""The ConvDRAW generator of the GQN: ``L`` steps of ConvLSTM cores writing a canvas."""
import chainer
import chainer.functions as F

from gqn import ops
from gqn.model.core import ConvLSTMCore
from gqn.model.representation import broadcast_viewpoint

# Channels of the query image after its 4x4 stride-4 downsampling (3 * 4 * 4:
# as many as the pixels it summarises).
X_DOWN_CHANNELS = 48
HEAD_KSIZE = 5


def soft_clamp(x, bound):
    """``bound * tanh(x / bound)``: ``x`` near 0, never beyond ``±bound``; ``x`` when ``bound`` is 0."""
    if not bound:
        return x
    return bound * F.tanh(x / bound)


class GaussianHead(chainer.Chain):
    """A 5x5 conv from a core state to the mean and log-variance of ``z``, the
    log-variance soft-clamped to ``±logvar_bound`` (:func:`soft_clamp`; 0: unbounded)."""

    def __init__(self, h_channels, z_channels, logvar_bound=0):
        super().__init__()
        self.logvar_bound = logvar_bound
        with self.init_scope():
            self.conv = ops.Convolution2D(h_channels, 2 * z_channels, HEAD_KSIZE,
                                        pad=HEAD_KSIZE // 2)

    def forward(self, h):
        """``(B, h_channels, S, S) -> (mean, log-variance)``, each ``(B, z_channels, S, S)``."""
        mu, lv = F.split_axis(self.conv(h), 2, axis=1)
        return mu, soft_clamp(lv, self.logvar_bound)


def sample_gaussian(mu, lv):
    """``mu + exp(lv / 2) * eps`` with ``eps`` from :data:`gqn.ops.latent_noise`."""
    xp = chainer.backend.get_array_module(mu)
    eps = ops.latent_noise.standard_normal(xp, mu.shape, mu.dtype)
    return mu + F.exp(0.5 * lv) * eps


class Generator(chainer.Chain):
    """ConvDRAW with a generation core (``h_g``) and an inference core (``h_e``).

    At step ``l``: the prior head reads ``h_g`` (both heads' log-variances are
    soft-clamped to ``±hp.logvar_bound``); the inference core reads the
    query image (4x4/4 conv), the canvas ``u`` (4x4/4 conv), ``h_g``, ``v_q``
    and ``r``; the posterior head reads the *updated* ``h_e``; ``z`` is drawn
    from the posterior (or the prior without a query image); the generation
    core reads ``z``, ``v_q`` and ``r``; ``u`` accumulates a 4x4/4 transposed
    conv of the new ``h_g``. The mean image is a 1x1 conv of ``u``
    (unbounded). Heads, canvas write and downsamplers are shared by all
    steps; the cores are per step unless ``hp.shared_core``.

    Args:
        hp (~gqn.model.hyperparams.HyperParameters): sizes.
        hoist (bool): do the work on the step-invariant inputs once per
            forward pass (default) instead of convolving the full
            concatenation at every step (:func:`gqn.ops.conv_lstm_steps`).
            Both give the same result.
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
            self.prior = GaussianHead(h, hp.z_channels, hp.logvar_bound)
            self.posterior = GaussianHead(h, hp.z_channels, hp.logvar_bound)
            self.write = ops.Deconvolution2D(h, hp.u_channels, 4, stride=4)
            self.downsample_x = ops.Convolution2D(3, X_DOWN_CHANNELS, 4, stride=4)
            self.downsample_u = ops.Convolution2D(hp.u_channels, h, 4, stride=4)
            self.observation = ops.Convolution2D(hp.u_channels, 3, 1)

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
        L_ = hp.generation_steps
        generation = ops.conv_lstm_steps(self.generation_cores, vr, L_, self.hoist)
        if x_q is not None:
            x_down = self.downsample_x(F.cast(x_q, dtype))
            inference = ops.conv_lstm_steps(self.inference_cores,
                                            F.concat((x_down, vr), axis=1), L_, self.hoist)
        zeros = xp.zeros((B, hp.h_channels, S, S), dtype=dtype)
        h_g = c_g = h_e = c_e = zeros
        u, write, read, image = ops.canvas(self.write, self.downsample_u, B, S, xp, dtype)
        kl = None
        for l in range(L_):
            mu_p, lv_p = self.prior(h_g)
            if x_q is None:
                z = sample_gaussian(mu_p, lv_p)
            else:
                h_e, c_e = inference[l](h_e, c_e, (h_g, read(u)))
                mu_q, lv_q = self.posterior(h_e)
                z = sample_gaussian(mu_q, lv_q)
                kl_l = F.sum(ops.gaussian_kl(mu_q, lv_q, mu_p, lv_p), axis=(1, 2, 3))
                kl = kl_l if kl is None else kl + kl_l
            h_g, c_g = generation[l](h_g, c_g, (z,))
            u = write(u, h_g)
        return self.observation(image(u)), kl
