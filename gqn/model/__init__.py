"""The Generative Query Network: representation networks, ConvDRAW generator, ELBO.

:class:`~gqn.model.gqn.GQN` (the model), :class:`~gqn.model.loss.GQNLoss` (the
ELBO as a Chain reporting its parts), :class:`~gqn.model.hyperparams.HyperParameters`
(sizes), :mod:`gqn.model.weights` (saving and loading a trained model). Model
code calls only :mod:`gqn.ops`.
"""
