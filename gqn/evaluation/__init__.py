"""What a trained run is worth: scores against baselines (:mod:`~gqn.evaluation.evaluate`)
and rotation GIFs of its predictions (:mod:`~gqn.evaluation.gif`), from a run
loaded by :func:`~gqn.evaluation.run.load_run`.
"""
