"""Helpers for testing the project (and code built on it), shipped with the package.

:mod:`~gqn.testing.datasets` (a learnable synthetic shard dataset, a tiny model
configuration, a fixed batch), :mod:`~gqn.testing.records` (TFRecord files and
DeepMind-schema records, the writers the importer's readers are tested against),
:mod:`~gqn.testing.nvrtc` (compiling every CuPy kernel with NVRTC without a GPU).
The renderer's helpers are in :mod:`renderer.testing`.
"""
