"""The engine of ``gqn view``: a trained model's prediction of one scene from any camera.

:class:`SceneViewer` holds the model, one dataset split and (for datasets from this
renderer) one open OpenGL renderer. :meth:`~SceneViewer.open_scene` picks a scene
and its ``K`` context views once; :meth:`~SceneViewer.frame` then answers a
camera with the model's prediction, the ground truth re-rendered from the stored
scene spec and their MSE. The web page (:mod:`gqn.evaluation.view_server`) is a
thin layer over it, and ``bench/view.py`` times it.

The context views and the latent noise follow ``gqn gif``
(:func:`gqn.evaluation.gif.context_views`, sample ``s`` keyed by
``seed * 1000 + s``), so the viewer shows the GIF's frame at the GIF's camera.
"""
import numpy as np


def viewpoint_from_camera(rotation, position):
    """The 7-d viewpoint of a camera given as computer-vision libraries give it.

    Args:
        rotation (array): ``(3, 3)`` camera-to-world rotation of an OpenCV-style
            camera (looks along its local +z, image-down is its local +y), as
            viser's ``camera.wxyz`` is.
        position (array): ``(3,)`` the camera's position in the world (+y up).

    Returns:
        numpy.ndarray: float32 ``(7,)`` ``(x, y, z, cos yaw, sin yaw, cos pitch,
        sin pitch)`` (:mod:`renderer.camera`). A viewpoint has no roll: the
        camera's roll about its viewing axis is dropped.
    """
    from renderer import camera
    backward = -np.asarray(rotation, dtype=np.float64)[:, 2]  # OpenGL's local +z
    yaw, pitch = camera.yaw_pitch(backward)
    return camera.viewpoint(np.asarray(position, dtype=np.float64), yaw, pitch)


def camera_from_viewpoint(viewpoint):
    """The inverse of :func:`viewpoint_from_camera`: ``(rotation (3, 3), position (3,))``
    float64 of an OpenCV-style camera at a 7-d viewpoint (zero roll)."""
    from renderer.camera import pose_from_viewpoint
    pose = pose_from_viewpoint(viewpoint)
    return pose[:3, :3] * np.array([1.0, -1.0, -1.0]), pose[:3, 3]


class SceneViewer:
    """Predictions of the scenes of one split from any viewpoint.

    Args:
        model (~gqn.model.gqn.GQN): on ``device``.
        dataset (~gqn.data.shard_dataset.ShardDataset): the split, checked against
            the model.
        manifest (dict or None): the dataset's manifest; with the split's scene
            specs it lets :meth:`frame` re-render the ground truth.
        device: the Chainer device of the model.

    Use it from one thread (it owns an OpenGL context); :meth:`close` when done.
    """

    def __init__(self, model, dataset, manifest, device):
        self.model, self.dataset, self.manifest, self.device = model, dataset, manifest, device
        self.has_truth = manifest is not None and dataset.has_specs
        self.scene = self.context = self.seed = None
        self._renderer = None

    def open_scene(self, scene, context, seed=0):
        """Choose scene ``scene`` with ``context`` context views (as ``gqn gif`` does).

        For a ``'world'``-frame model the representation ``r`` is computed here,
        once; a ``'query'``-frame model recomputes it for every camera.

        Raises:
            GQNError: a scene index or ``K`` out of range.
        """
        import chainer

        from gqn.errors import GQNError
        from gqn.evaluation.gif import context_views
        if not 0 <= scene < len(self.dataset):
            raise GQNError('scene %d is out of range: the split has scenes 0..%d'
                           % (scene, len(self.dataset) - 1))
        if not 0 <= context <= self.dataset.views:
            raise GQNError('K = %d is out of range 0..%d' % (context, self.dataset.views))
        x, v = self.dataset[scene]
        self.chosen = context_views(self.dataset.views, context, seed, scene)
        self.context_images = x[self.chosen]
        self.context_viewpoints = v[self.chosen]
        self.viewpoints = v
        self.x_c = self.device.send(x[None, self.chosen])
        self.v_c = self.device.send(v[None, self.chosen])
        self.r = None
        if self.model.hp.viewpoint_frame == 'world':
            with chainer.no_backprop_mode(), chainer.using_config('train', False):
                self.r = self.model.compute_r(self.x_c, self.v_c)
        self.spec = self.dataset.get_spec(scene) if self.has_truth else None
        self.scene, self.context, self.seed = scene, context, seed

    def predict(self, viewpoint, samples=1, seed=0):
        """The model's image for one viewpoint: the mean of ``samples`` prior samples.

        Args:
            viewpoint (array): float32 ``(7,)``.
            samples (int): prior samples averaged (sample ``s`` is keyed by
                ``seed * 1000 + s``, so a fixed seed changes smoothly with the camera).

        Returns:
            numpy.ndarray: float32 ``(3, H, W)`` in [0, 1].
        """
        import chainer

        from gqn.ops.random_state import fixed_seed
        v_q = self.device.send(np.asarray(viewpoint, dtype=np.float32)[None])
        images = []
        for s in range(samples):
            with fixed_seed(seed * 1000 + s), chainer.no_backprop_mode(), \
                    chainer.using_config('train', False):
                if self.r is not None:
                    y = self.model.generate_from_r(self.r, v_q)
                else:
                    y = self.model.generate(self.x_c, self.v_c, v_q)
            images.append(np.clip(chainer.backend.CpuDevice().send(y.array[0]), 0, 1))
        return np.mean(images, axis=0) if samples > 1 else images[0]

    def truth(self, viewpoint):
        """The scene re-rendered from its stored spec at ``viewpoint``: uint8 ``(H, W, 3)``,
        or ``None`` when the dataset has no specs."""
        if not self.has_truth:
            return None
        if self._renderer is None:
            from renderer.dataset import open_view_renderer
            self._renderer = open_view_renderer(self.manifest)
        return self._renderer.render(self.spec, np.asarray(viewpoint)[None])[0]

    def frame(self, viewpoint, samples=1, seed=0):
        """Prediction, ground truth and their MSE at one viewpoint of the open scene.

        Returns:
            dict: ``prediction`` uint8 ``(H, W, 3)``; ``truth`` uint8 ``(H, W, 3)`` or
            ``None``; ``mse`` (float, images in [0, 1], as ``gqn eval`` scores) or
            ``None``.
        """
        from gqn.data.image_grid import to_uint8
        from gqn.data.shard_dataset import to_model_images
        y = self.predict(viewpoint, samples, seed)
        truth = self.truth(viewpoint)
        mse = None
        if truth is not None:
            mse = float(np.mean((y - to_model_images(truth)) ** 2))
        return {'prediction': to_uint8(y), 'truth': truth, 'mse': mse}

    def close(self):
        """Release the renderer's OpenGL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
