"""Procedural 3D scene datasets for GQN, rendered offscreen with pyrender.

``import renderer`` stays light (no OpenGL); rendering modules load pyrender
through :mod:`renderer.platform` when first used.

Public API:

* :func:`render_dataset` - render a recipe into ``.npy`` shards (images, viewpoints,
  scene specs, instance masks).
* :func:`render_viewpoints` - re-render a stored scene spec from any viewpoints (its
  instance masks too, with ``masks=True``).
* :mod:`renderer.camera` - axis convention, pose <-> viewpoint, camera samplers.
* :mod:`renderer.families` - the scene-family interface and registry
  (built-in: :mod:`renderer.shepard_matzler`, :mod:`renderer.rooms`,
  :mod:`renderer.mnist_dice`, :mod:`renderer.objects`).
* :mod:`renderer.textures` - procedural textures; :mod:`renderer.digits` -
  local MNIST / scikit-learn digit sources.
"""
from renderer.dataset import render_dataset, render_viewpoints  # noqa: F401
