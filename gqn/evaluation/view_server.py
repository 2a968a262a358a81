"""The web page of ``gqn view``: viser's 3D viewport around a :class:`SceneViewer`.

Why viser (https://viser.studio, nerfstudio's viewer library): it ships the
parts this page needs and nothing to build: a three.js viewport whose camera
the user drags, zooms and moves with keys, that camera's pose as an event on
the server, camera frustums textured with images, a GUI panel (numbers,
sliders, buttons, images, Markdown), notifications and file downloads, one
state per browser tab, and a pure-Python wheel whose web client is prebuilt.
A hand-written page would re-implement each of them.

Threads: viser calls the handlers below on its thread pool; they only record
what the tab wants (its camera, scene, ``K``, samples, seed). One worker
thread owns the model and the OpenGL renderer and serves the tabs in turn,
each time with the *newest* request of the tab: cameras that arrived while
it was busy are dropped, so dragging never queues up.
"""
import os
import sys
import threading
import time

import numpy as np

#: Shown images are enlarged to at least this many pixels, by whole pixels.
SHOWN_PIXELS = 256
#: The page draws enlarged images with square pixels (no smoothing that invents detail).
PIXELATED = '<style>img { image-rendering: pixelated; }</style>'
MAX_SAMPLES = 16


class _Tab:
    """What one browser tab asks for, and its GUI handles."""

    def __init__(self, client, scene, context):
        self.client = client
        self.scene, self.context, self.samples, self.seed = scene, context, 1, 0
        self.viewpoint = None      # the tab's camera, a 7-d viewpoint
        self.stamp = 0             # bumped by every change; the worker serves the newest
        self.served = -1
        self.frustums = []
        self.shown_context = None  # (scene, K, seed) whose context views the tab shows
        self.last = None           # the frame shown: dict of SceneViewer.frame plus 'viewpoint'


def _wxyz(rotation):
    import viser.transforms as tf
    return tf.SO3.from_matrix(rotation).wxyz


def enlarge(image):
    """uint8 ``(H, W, 3)`` enlarged by whole pixels to at least :data:`SHOWN_PIXELS` rows."""
    from gqn.data.image_grid import upscale
    return upscale(image, max(1, SHOWN_PIXELS // image.shape[0]))


def backdrop(image, aspect, rows=512):
    """The prediction as the 3D view's background: enlarged by whole pixels to about
    ``rows`` rows and padded with black to the viewport's ``aspect`` (width / height), so
    that, with the viewport's vertical field of view set to the dataset's, it fills the
    middle of the view exactly where the model sees it and the frustums line up with it."""
    from gqn.data.image_grid import upscale
    big = upscale(image, max(1, rows // image.shape[0]))
    h, w = big.shape[:2]
    width = max(w, int(round(h * aspect))) if aspect > 0 else w
    out = np.zeros((h, width, 3), np.uint8)
    out[:, (width - w) // 2:(width - w) // 2 + w] = big
    return out


def start_viewpoint(viewer, turn=np.pi / 4):
    """Where a tab's camera starts (and goes back to): the first context view's camera
    (the scene's first view with K = 0) turned ``turn`` radians about the vertical axis,
    so the context frustums are in sight. Turning a camera of the scene about +y keeps
    it among the cameras the dataset draws (on a ring or a sphere around the axis)."""
    v = (viewer.context_viewpoints if len(viewer.context_viewpoints) else
         viewer.viewpoints)[0].astype(np.float64)
    c, s = np.cos(turn), np.sin(turn)
    x, y, z, cy, sy = v[:5]
    return np.array([x * c + z * s, y, z * c - x * s, cy * c - sy * s, sy * c + cy * s,
                     v[5], v[6]], dtype=np.float32)


def viewpoint_text(viewpoint):
    """The page's exact readout of a viewpoint: 9 significant digits per float32 number
    (enough to read it back bit for bit)."""
    return ' '.join('%.9g' % float(c) for c in np.asarray(viewpoint, dtype=np.float32))


class ViewServer:
    """A viser server showing a :class:`~gqn.evaluation.viewer.SceneViewer`.

    Args:
        make_viewer (callable): returns the :class:`~gqn.evaluation.viewer.SceneViewer`;
            called on the worker thread, which owns it (OpenGL contexts belong to
            one thread).
        scenes (int), views (int): the split's scenes and views per scene.
        yfov (float): the dataset camera's vertical field of view (radians).
        host (str), port (int): where to listen.
        out (str): folder for the saved PNGs and GIFs.
        write_gif (callable): ``write_gif(path, scene, context, samples, seed)``, run on
            the worker thread.
        context (int): the ``K`` a new tab starts with.
    """

    def __init__(self, make_viewer, scenes, views, yfov, host, port, out, write_gif,
                 context=3):
        import viser
        self.scenes, self.views, self.yfov, self.out = scenes, views, yfov, out
        self.write_gif = write_gif
        self.default_context = min(context, views)
        self._make_viewer = make_viewer
        self._tabs = {}
        self._jobs = []             # (tab, kind) for the buttons
        self._wake = threading.Condition()
        self._stop = False
        self.error = None
        self._ready = threading.Event()
        self._worker = threading.Thread(target=self._work, name='gqn-view-worker', daemon=True)
        self._worker.start()
        self._ready.wait()
        if self.error is not None:
            raise self.error
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.server.scene.set_up_direction('+y')
        self.server.scene.add_grid('/grid', 10.0, 10.0, plane='xz', cell_size=0.5)
        self.server.on_client_connect(self._connect)
        self.server.on_client_disconnect(self._disconnect)

    @property
    def port(self):
        """The port the server listens on."""
        return self.server.get_port()

    def stop(self):
        """Stop the web server and the worker (the viewer's context is released)."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._worker.join()
        self.server.stop()

    # -- the browser tabs (viser's threads) ----------------------------------------

    def _connect(self, client):
        tab = _Tab(client, 0, self.default_context)
        gui = client.gui
        gui.add_html(PIXELATED)
        gui.add_markdown('**GQN viewer**: drag to orbit, scroll to zoom, right-drag to pan '
                         '(WASD/QE keys move too). The model predicts the view of your camera.')
        # no min/max: a number out of range reaches the server, which refuses it with a notice
        scene = gui.add_number('scene', 0, step=1,
                               hint='scene of the split (0..%d)' % (self.scenes - 1))
        context = gui.add_slider('context views K', 0, self.views, 1, tab.context)
        samples = gui.add_slider('samples averaged', 1, MAX_SAMPLES, 1, 1,
                                 hint='1: one prior sample; N: the mean of N samples')
        seed = gui.add_number('seed', 0, min=0, step=1,
                              hint='latent noise; fixed, so a sample moves smoothly')
        tab.status = gui.add_markdown('waiting for the first prediction')
        blank = np.zeros((SHOWN_PIXELS, SHOWN_PIXELS, 3), np.uint8)
        tab.prediction = gui.add_image(blank, label='prediction', format='png')
        tab.truth = gui.add_image(blank, label='ground truth (re-rendered)', format='png')
        tab.readout = gui.add_markdown('')
        save = gui.add_button('save PNG (prediction | truth)')
        gif = gui.add_button('orbit GIF of this scene')
        reset = gui.add_button('reset the camera (context view 1, turned 45°)')

        @scene.on_update
        def _(event):
            value = scene.value
            if not (float(value).is_integer() and 0 <= value < self.scenes):
                client.add_notification(
                    'no such scene', 'scene %s is out of range: the split has scenes 0..%d'
                    % (value, self.scenes - 1), color='red', auto_close_seconds=5)
                scene.value = tab.scene
                return
            self._ask(tab, scene=int(value), frame_camera=True)

        context.on_update(lambda event: self._ask(tab, context=int(context.value)))
        samples.on_update(lambda event: self._ask(tab, samples=int(samples.value)))

        @seed.on_update
        def _(event):
            if float(seed.value).is_integer() and seed.value >= 0:
                self._ask(tab, seed=int(seed.value))

        save.on_click(lambda event: self._job(tab, 'png'))
        gif.on_click(lambda event: self._job(tab, 'gif'))
        reset.on_click(lambda event: self._job(tab, 'camera'))
        client.camera.on_update(lambda camera: self._camera(tab, camera))
        client.camera.fov = self.yfov
        with self._wake:
            self._tabs[client.client_id] = tab
        self._job(tab, 'camera')

    def _disconnect(self, client):
        with self._wake:
            self._tabs.pop(client.client_id, None)

    def _camera(self, tab, camera):
        import viser.transforms as tf

        from gqn.evaluation.viewer import viewpoint_from_camera
        v = viewpoint_from_camera(tf.SO3(camera.wxyz).as_matrix(), camera.position)
        self._ask(tab, viewpoint=v)

    def _ask(self, tab, frame_camera=False, **changes):
        with self._wake:
            for name, value in changes.items():
                setattr(tab, name, value)
            tab.stamp += 1
            if frame_camera:
                self._jobs.append((tab, 'camera'))
            self._wake.notify_all()

    def _job(self, tab, kind):
        with self._wake:
            self._jobs.append((tab, kind))
            self._wake.notify_all()

    # -- the worker thread -----------------------------------------------------------

    def _work(self):
        try:
            viewer = self._make_viewer()
        except Exception as e:  # reported by __init__ on the calling thread
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                with self._wake:
                    while not self._stop and not self._jobs and not self._pending():
                        self._wake.wait()
                    if self._stop:
                        return
                    if self._jobs:
                        tab, kind = self._jobs.pop(0)
                        request = None
                    else:
                        tab, kind = self._pending(), 'frame'
                        request = (tab.stamp, tab.scene, tab.context, tab.samples, tab.seed,
                                   tab.viewpoint)
                        tab.served = tab.stamp
                try:
                    if kind == 'frame':
                        self._serve(viewer, tab, *request[1:])
                    else:
                        self._button(viewer, tab, kind)
                except Exception as e:  # a tab's failure is shown there, the server goes on
                    print('gqn view: %s: %s' % (type(e).__name__, e), file=sys.stderr)
                    try:
                        tab.client.add_notification('error', '%s: %s' % (type(e).__name__, e),
                                                    color='red', auto_close_seconds=10)
                    except Exception:  # the tab has gone
                        pass
        finally:
            viewer.close()

    def _pending(self):
        """The tab with an unserved request (the one waiting longest), or ``None``."""
        waiting = [t for t in self._tabs.values()
                   if t.stamp != t.served and t.viewpoint is not None]
        return min(waiting, key=lambda t: t.served, default=None)

    def _open(self, viewer, tab, scene, context, seed):
        """Open the tab's scene in the viewer (if another is open) and show its
        context views as frustums in the tab (if it shows others)."""
        from gqn.data.image_grid import to_uint8
        from gqn.evaluation.viewer import camera_from_viewpoint
        if (viewer.scene, viewer.context, viewer.seed) != (scene, context, seed):
            viewer.open_scene(scene, context, seed)
        if tab.shown_context == (scene, context, seed):
            return
        for handle in tab.frustums:
            handle.remove()
        tab.frustums = []
        # frustums an eighth of the cameras' distance deep: in sight, not in the way
        scale = 0.125 * float(np.median(np.linalg.norm(viewer.viewpoints[:, :3], axis=1)))
        for i, (image, v) in enumerate(zip(to_uint8(viewer.context_images),
                                           viewer.context_viewpoints)):
            rotation, position = camera_from_viewpoint(v)
            tab.frustums.append(tab.client.scene.add_camera_frustum(
                '/context/%d' % i, fov=self.yfov, aspect=1.0, scale=scale,
                image=enlarge(image), format='png', wxyz=_wxyz(rotation),
                position=position, color=(40, 120, 220)))
        tab.shown_context = (scene, context, seed)

    def _serve(self, viewer, tab, scene, context, samples, seed, viewpoint):
        start = time.perf_counter()
        self._open(viewer, tab, scene, context, seed)
        frame = viewer.frame(viewpoint, samples, seed)
        frame.update(viewpoint=viewpoint, scene=scene, context=context, samples=samples,
                     seed=seed)
        with tab.client.atomic():
            tab.client.scene.set_background_image(
                backdrop(frame['prediction'], tab.client.camera.aspect), format='png')
            tab.prediction.image = enlarge(frame['prediction'])
            if frame['truth'] is not None:
                tab.truth.image = enlarge(frame['truth'])
            tab.status.content = (
                'scene %d, K = %d, %s: MSE %s (%.0f ms)' % (
                    scene, context, 'one sample' if samples == 1 else 'mean of %d' % samples,
                    '%.5f' % frame['mse'] if frame['mse'] is not None else 'n/a (no scene spec)',
                    1000 * (time.perf_counter() - start)))
            tab.readout.content = 'viewpoint `%s`' % viewpoint_text(viewpoint)
        tab.last = frame

    def _button(self, viewer, tab, kind):
        from gqn.evaluation.viewer import camera_from_viewpoint
        if kind == 'camera':  # the first context view's camera, turned 45 degrees
            self._open(viewer, tab, tab.scene, tab.context, tab.seed)
            v = start_viewpoint(viewer)
            rotation, position = camera_from_viewpoint(v)
            camera = tab.client.camera
            with tab.client.atomic():
                camera.position = position
                camera.look_at = position + np.linalg.norm(position) * rotation[:, 2]
                camera.up_direction = (0.0, 1.0, 0.0)
            self._ask(tab, viewpoint=v)  # the page answers too, unless its camera was there
            return
        frame = tab.last
        if frame is None:
            tab.client.add_notification('nothing yet', 'no prediction shown yet',
                                        auto_close_seconds=5)
            return
        os.makedirs(self.out, exist_ok=True)
        stem = 'view_scene%d_K%d_seed%d' % (frame['scene'], frame['context'], frame['seed'])
        if kind == 'png':
            from gqn.data.image_grid import save_png, tile
            tiles = [frame['prediction']] + ([frame['truth']] if frame['truth'] is not None
                                             else [])
            path = os.path.join(self.out, '%s_%d.png' % (stem, int(time.time() * 1000)))
            save_png(path, enlarge(tile([tiles])))
        else:
            note = tab.client.add_notification('writing the GIF', 'scene %d, 36 frames'
                                               % frame['scene'], loading=True,
                                               with_close_button=False)
            path = os.path.join(self.out, stem + '.gif')
            try:
                self.write_gif(path, frame['scene'], frame['context'], frame['samples'],
                               frame['seed'])
            finally:
                note.remove()
        with open(path, 'rb') as f:
            tab.client.send_file_download(os.path.basename(path), f.read())
        tab.client.add_notification('saved', path, auto_close_seconds=8)
