"""The viewer's engine (:mod:`gqn.evaluation.viewer`) and ``gqn view``'s bad input."""
import socket
import time

import chainer
import numpy as np
import pytest

from gqn.cli import main
from gqn.data import shards
from gqn.data.image_grid import to_uint8
from gqn.data.shard_dataset import ShardDataset
from gqn.errors import GQNError
from gqn.evaluation.gif import context_views
from gqn.evaluation.run import load_run
from gqn.evaluation.viewer import SceneViewer, camera_from_viewpoint, viewpoint_from_camera
from gqn.ops.random_state import fixed_seed
from gqn.testing import browser
from gqn.testing.datasets import TINY_MODEL
from gqn.training.config import TrainConfig
from gqn.training.trainer import train
from renderer import camera


def test_camera_conversions_follow_the_axis_convention():
    # an OpenCV camera at +z looking at the origin: forward -z, image-down -y, right +x
    rotation = np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)
    v = viewpoint_from_camera(rotation, (0, 0, 3))
    np.testing.assert_allclose(v, [0, 0, 3, 1, 0, 1, 0], atol=1e-7)
    rng = np.random.RandomState(0)
    position = rng.uniform(-3, 3, (20, 3))
    for p in position:
        expected = camera.look_at_origin(p)
        rotation, back = camera_from_viewpoint(expected)
        np.testing.assert_allclose(back, p, rtol=1e-6)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        # the camera looks at the origin along its +z
        np.testing.assert_allclose(rotation[:, 2], -p / np.linalg.norm(p), atol=1e-6)
        assert rotation[1, 1] < 0  # image-down points down in the world (zero roll)
        np.testing.assert_allclose(viewpoint_from_camera(rotation, back), expected, atol=1e-6)


def test_roll_is_dropped():
    rotation, position = camera_from_viewpoint(camera.look_at_origin((1.0, 0.5, 2.0)))
    a = 0.4  # roll about the viewing axis (local z)
    roll = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    np.testing.assert_allclose(viewpoint_from_camera(rotation @ roll, position),
                               viewpoint_from_camera(rotation, position), atol=1e-6)


@pytest.fixture(scope='module')
def rendered_run(tmp_path_factory):
    """A tiny rendered dataset (scene specs, so the truth can be re-rendered) and a
    run of 2 iterations on it, in the query frame and in the world frame."""
    from renderer.testing import render_tiny
    tmp = tmp_path_factory.mktemp('view')
    root = render_tiny(str(tmp / 'sm'))
    runs = {}
    for frame in ('query', 'world'):
        runs[frame] = str(tmp / frame)
        train(TrainConfig(dataset=root, model=dict(TINY_MODEL, viewpoint_frame=frame),
                          batch_size=2, iterations=2), runs[frame], quiet=True)
    return root, runs


def open_viewer(run_dir):
    run = load_run(run_dir)
    device, dataset = run.open('@numpy', 'test')
    return run, dataset, SceneViewer(run.model, dataset, shards.read_manifest(run.root), device)


@pytest.mark.parametrize('frame', ['query', 'world'])
def test_frame_is_the_models_prediction_and_the_stored_scene(rendered_run, frame):
    root, runs = rendered_run
    run, dataset, viewer = open_viewer(runs[frame])
    try:
        viewer.open_scene(3, 2, seed=1)
        assert (viewer.r is not None) == (frame == 'world')  # r computed once per scene
        x, v = dataset[3]
        chosen = context_views(5, 2, 1, 3)
        np.testing.assert_array_equal(viewer.chosen, chosen)
        for j in (0, 4):  # a stored view: the truth is its image, byte for byte
            f = viewer.frame(v[j], samples=1, seed=1)
            np.testing.assert_array_equal(f['truth'], to_uint8(x[j]))
            with fixed_seed(1000), chainer.no_backprop_mode(), \
                    chainer.using_config('train', False):
                y = run.model.generate(x[None, chosen], v[None, chosen], v[None, j]).array[0]
            np.testing.assert_array_equal(f['prediction'], to_uint8(y))
            expected = float(np.mean((np.clip(y, 0, 1) - x[j]) ** 2))
            assert f['mse'] == pytest.approx(expected, rel=1e-5)
        # the mean of 3 samples is the mean of samples 0, 1, 2
        three = viewer.predict(v[1], samples=3, seed=1)
        singles = []
        for s in range(3):
            with fixed_seed(1000 + s), chainer.no_backprop_mode(), \
                    chainer.using_config('train', False):
                singles.append(np.clip(run.model.generate(
                    x[None, chosen], v[None, chosen], v[None, 1]).array[0], 0, 1))
        np.testing.assert_allclose(three, np.mean(singles, axis=0), atol=1e-6)
        # a new camera moves the prediction and the truth
        moved = viewer.frame(camera.look_at_origin(v[0, :3] * [1, 1.2, 0.8]), seed=1)
        assert not np.array_equal(moved['truth'], f['truth'])
        assert not np.array_equal(moved['prediction'], f['prediction'])
    finally:
        viewer.close()


def test_no_context_and_out_of_range(rendered_run):
    root, runs = rendered_run
    run, dataset, viewer = open_viewer(runs['query'])
    try:
        viewer.open_scene(0, 0)
        assert viewer.frame(dataset[0][1][0])['prediction'].shape == (16, 16, 3)
        with pytest.raises(GQNError, match='scene 4 is out of range: the split has scenes 0..3'):
            viewer.open_scene(4, 1)
        with pytest.raises(GQNError, match='K = 6 is out of range 0..5'):
            viewer.open_scene(0, 6)
    finally:
        viewer.close()


def test_world_frame_only_for_generate_from_r(rendered_run):
    run = load_run(rendered_run[1]['query'])
    with pytest.raises(ValueError, match="viewpoint_frame = 'world'"):
        run.model.generate_from_r(None, None)


def test_view_bad_input_is_one_line(rendered_run, tmp_path, capsys, monkeypatch):
    root, runs = rendered_run
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(['view', runs['query'], '--port', str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'gqn view: error: port %d on 127.0.0.1 is in use: pass another --port' % port
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert main(['view', str(empty), '--port', str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'holds no trained model' in err
    other = tmp_path / 'other'
    from gqn.testing.datasets import write_synthetic_dataset
    write_synthetic_dataset(str(other), size=8, per_shard=4, scenes=4)
    assert main(['view', runs['query'], '--dataset', str(other), '--port', str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and err.startswith('gqn view: error:')
    assert main(['view', runs['query'], '--context', '9', '--port', str(port)]) == 2
    assert capsys.readouterr().err.strip() == 'gqn view: error: --context must be in 0..5'
    # --open on a machine with no browser to open (no display, no console browser)
    import webbrowser
    for name in ('DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(webbrowser, '_tryorder', None)  # registered again, from this env
    monkeypatch.setattr(webbrowser, '_browsers', {})
    monkeypatch.setenv('PATH', str(tmp_path))
    assert main(['view', runs['query'], '--open', '--port', str(port)]) == 2
    assert capsys.readouterr().err.strip() == (
        'gqn view: error: --open: no web browser found on this machine; open the URL yourself')
    assert ShardDataset(root, 'test').views == 5


def _started(proc, err_path, timeout=120.0):
    """The URL ``gqn view`` prints once it listens (its stderr, a file, in any failure)."""
    import select
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError('gqn view exited: %s' % err_path.read_text())
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith('gqn view: http://'):
                return line.split()[2]
    raise AssertionError('gqn view did not start in %d s; its stderr: %s'
                         % (timeout, err_path.read_text()))


def _expected(run, dataset, scene, context, viewpoint):
    """``model.generate`` for the page's camera, as uint8 pixels (sample 0 of seed 0)."""
    x, v = dataset[scene]
    chosen = context_views(dataset.views, context, 0, scene)
    with fixed_seed(0), chainer.no_backprop_mode(), chainer.using_config('train', False):
        y = run.model.generate(x[None, chosen], v[None, chosen], viewpoint[None]).array[0]
    return to_uint8(y)


def _shown_frame(driver):
    """The page's viewpoint, prediction and truth images, read while the viewpoint holds."""
    while True:
        v = browser.page_viewpoint(driver)
        shown = browser.shown_image(driver, 'prediction')
        truth = browser.shown_image(driver, 'ground truth (re-rendered)')
        time.sleep(0.3)
        if np.array_equal(browser.page_viewpoint(driver), v):
            return v, shown, truth


def _pixels(shown, size):
    """The model-sized image under an enlarged one (the centre of each block)."""
    scale = shown.shape[0] // size
    return shown[scale // 2::scale, scale // 2::scale][:size, :size]


@pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))
def test_view_in_a_real_browser(rendered_run, tmp_path):
    """``gqn view`` in headless Chromium: the first prediction, a mouse drag on the 3D
    view, the shown images equal ``model.generate`` and the re-rendered truth for the
    page's camera, a second tab, a scene out of range, no console errors, Ctrl-C."""
    import signal
    import subprocess
    import sys

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from renderer import render_viewpoints
    root, runs = rendered_run
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    err_path = tmp_path / 'view.err'  # a file: a pipe nobody reads could fill and block it
    with open(err_path, 'w') as err:
        proc = subprocess.Popen([sys.executable, '-m', 'gqn.cli', 'view', runs['query'],
                                 '--port', str(port), '--context', '2',
                                 '--out', str(tmp_path / 'out')],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    driver = None
    try:
        url = _started(proc, err_path)
        assert url == 'http://127.0.0.1:%d' % port
        run = load_run(runs['query'])
        dataset = ShardDataset(root, 'test')
        manifest = shards.read_manifest(root)
        spec = dataset.get_spec(0)
        driver = browser.open_chromium()
        driver.get(url)
        from types import SimpleNamespace

        from gqn.evaluation.view_server import start_viewpoint
        chosen = context_views(5, 2, 0, 0)
        v = dataset[0][1]
        start = start_viewpoint(SimpleNamespace(context_viewpoints=v[chosen], viewpoints=v))
        # the page opens at the first context view's camera turned 45 degrees about +y
        np.testing.assert_allclose(np.arctan2(start[4], start[3]) - np.pi / 4,
                                   np.arctan2(v[chosen[0], 4], v[chosen[0], 3]), atol=1e-5)
        browser.wait_for(lambda: (lambda v: v is not None and np.allclose(v, start, atol=2e-3))(
            browser.page_viewpoint(driver)), 120, 'the prediction at the start camera')
        first, shown, truth = _shown_frame(driver)
        assert shown.shape == (256, 256, 3)  # 16 px shown as 16 x 16 blocks
        prediction = _pixels(shown, 16)
        np.testing.assert_array_equal(shown, np.repeat(np.repeat(prediction, 16, 0), 16, 1))
        assert np.abs(prediction.astype(int) - _expected(run, dataset, 0, 2, first)).max() <= 1
        np.testing.assert_array_equal(_pixels(truth, 16),
                                      render_viewpoints(manifest, spec, first[None])[0])

        # drag on the 3D view: the camera orbits and the prediction follows
        canvas = max(driver.find_elements('tag name', 'canvas'),
                     key=lambda c: c.size['width'] * c.size['height'])
        ActionChains(driver).move_to_element(canvas).click_and_hold().move_by_offset(
            120, 30).pause(0.3).release().perform()
        browser.wait_for(lambda: (lambda v: v is not None and not np.allclose(v, first))(
            browser.page_viewpoint(driver)), 60, 'a prediction for the moved camera')
        time.sleep(1.0)  # the drag's last camera served
        moved, shown, truth = _shown_frame(driver)
        assert np.abs(moved[3:5] - first[3:5]).max() > 0.05  # the yaw turned
        prediction2 = _pixels(shown, 16)
        assert not np.array_equal(prediction2, prediction)
        assert np.abs(prediction2.astype(int) - _expected(run, dataset, 0, 2, moved)).max() <= 1
        np.testing.assert_array_equal(_pixels(truth, 16),
                                      render_viewpoints(manifest, spec, moved[None])[0])

        # a scene out of range is refused in the page; the server goes on
        field = driver.find_element(
            'xpath', "//*[normalize-space(text())='scene']/following::input[1]")
        field.send_keys(Keys.CONTROL, 'a')
        field.send_keys('9', Keys.ENTER)
        browser.wait_for(lambda: 'scene 9 is out of range' in driver.find_element(
            'tag name', 'body').text, 30, 'the out-of-range notice')
        driver.save_screenshot(str(tmp_path / 'view.png'))
        assert browser.console_errors(driver) == []

        # a second tab gets its own prediction
        driver.switch_to.new_window('tab')
        driver.get(url)
        browser.wait_for(lambda: browser.page_viewpoint(driver) is not None, 120, 'the second tab')
        assert browser.console_errors(driver) == []
        driver.quit()
        driver = None
        time.sleep(1.0)
        assert proc.poll() is None  # closing the browser does not end the server
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert 'gqn view: stopped' in err_path.read_text()
    finally:
        if driver is not None:
            driver.quit()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
