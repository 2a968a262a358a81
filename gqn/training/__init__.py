"""Training: Chainer's Trainer on shard datasets, paper schedules, exact resume.

:func:`~gqn.training.trainer.train` (the run), :class:`~gqn.training.config.TrainConfig`
(presets and overrides), :class:`~gqn.training.updater.GQNUpdater`, the
extensions (:class:`~gqn.training.evaluator.GQNEvaluator` for held-out ELBO
terms during training, :class:`~gqn.training.prediction_grid.PredictionGrid`,
:class:`~gqn.training.snapshot.Snapshot`).
"""
