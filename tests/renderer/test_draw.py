"""The lean multi-view draw path against stock pyrender, and the camera geometry."""
import numpy as np
import pytest

from gqn.errors import GQNError
from renderer import camera, scene_spec
from renderer.draw import ViewRenderer
from renderer.shepard_matzler import ShepardMatzler
from renderer.testing import render_stock

INTR = camera.intrinsics({}, 64)


def _scenes(n, views, seed=0):
    family = ShepardMatzler({})
    sampler = camera.SphereCamera({'min_distance': 9.0, 'max_distance': 9.0})
    rng = np.random.default_rng(seed)
    return [(family.sample(rng), sampler.sample(rng, views)) for _ in range(n)]


@pytest.mark.parametrize('shadows', [False, True])
def test_matches_stock_pyrender(shadows):
    # Stock pyrender draws each view at viewport offset 0 with 4x MSAA; the lean path
    # draws view i at x offset 64*i. Stated tolerance: at most 1 pixel in 10,000 may
    # differ (a vertex snapped differently after the offset), everything else is equal.
    scenes = _scenes(3, 15)
    vr = ViewRenderer(INTR, 15, antialias=True, shadows=shadows)
    try:
        ours = np.stack([vr.render(spec, v) for spec, v in scenes])
    finally:
        vr.close()
    stock = np.stack([render_stock(spec, INTR, v, shadows=shadows) for spec, v in scenes])
    assert ours.shape == stock.shape == (3, 15, 64, 64, 3) and ours.dtype == np.uint8
    differs = np.any(ours != stock, axis=-1).mean()
    assert differs <= 1e-4, differs
    assert (ours.reshape(-1, 3) > 0).any(axis=1).mean() > 0.05  # something was drawn


def test_antialias_flag_and_row_independence():
    (spec, v), = _scenes(1, 15, seed=3)
    sharp = ViewRenderer(INTR, 15, antialias=False)
    smooth = ViewRenderer(INTR, 15, antialias=True)
    try:
        a = sharp.render(spec, v)
        b = smooth.render(spec, v)
        # 30 views are drawn as two rows of 15: each view lands in the same column again
        np.testing.assert_array_equal(sharp.render(spec, np.concatenate([v, v])),
                                      np.concatenate([a, a]))
    finally:
        sharp.close()
        smooth.close()
    assert (a != b).any()
    edge = np.abs(a.astype(int) - b).max(axis=-1) > 0
    assert edge.mean() < 0.1  # only edges change


def test_marker_projects_where_the_camera_model_says():
    # a small white cube at a known point must appear at camera.project(point)
    point = [1.5, 0.8, -1.2]
    pose = np.eye(4)
    pose[:3, 3] = point
    spec = scene_spec.scene('test', [0.0, 0.0, 0.0], [1.0, 1.0, 1.0],
                            [scene_spec.mesh('box', pose, [1.0, 1.0, 1.0], extents=[0.15] * 3)], [])
    positions = 6.0 * camera.direction(np.radians([0, 90, 200, 30, 300]),
                                       np.radians([0, 20, -35, 60, -70]))
    viewpoints = camera.look_at_origin(positions)
    vr = ViewRenderer(INTR, len(viewpoints))
    try:
        images = vr.render(spec, viewpoints)
    finally:
        vr.close()
    for image, v in zip(images, viewpoints):
        mask = image.max(axis=-1) > 0
        assert mask.sum() > 4
        rows, cols = np.nonzero(mask)
        expected = camera.project(INTR, camera.pose_from_viewpoint(v), point)
        # pixel (row, col) covers [col, col + 1) x [row, row + 1): its centre is +0.5
        np.testing.assert_allclose([cols.mean() + 0.5, rows.mean() + 0.5], expected, atol=0.75)
    # sanity of the convention: seen from +z (yaw 0), a point at +x is right of centre,
    # a point at +y is above the centre
    front = camera.pose_from_viewpoint(camera.look_at_origin([0.0, 0.0, 6.0]))
    col, row = camera.project(INTR, front, [1.0, 1.0, 0.0])
    assert col > 32 and row < 32


# --- instance masks: the id pass ------------------------------------------------------------

def _recipe_scenes(name, n, size=64):
    """``n`` (spec, viewpoints) of a built-in recipe, and its intrinsics at ``size`` px."""
    from renderer.dataset import SceneSampler
    from renderer.recipe import load_recipe
    recipe = load_recipe(name, ['image_size=%d' % size])[1]
    sampler = SceneSampler(recipe)
    return ([sampler.sample('train', i) for i in range(n)],
            camera.intrinsics(recipe['camera'], size), recipe['views'])


def _alone(vr, spec, meshes, viewpoints):
    """Pixels bool ``(N, H, W)`` that ``meshes`` cover on their own: drawn over two background
    colours, a pixel is uncovered exactly when it shows the background both times."""
    covered = False
    for background in ([1.0, 0.0, 1.0], [0.0, 1.0, 0.0]):
        images = vr.render(dict(spec, meshes=meshes, background=background), viewpoints)
        covered = covered | np.any(images != (np.array(background) * 255).astype(np.uint8), -1)
    return covered


@pytest.mark.parametrize('recipe', ['shepard_matzler_small', 'rooms_ring_camera',
                                    'mnist_dice_ring_camera'])
def test_mask_ids_are_the_objects_of_the_spec(recipe):
    # Each object drawn alone (no room, no other object) gives its coverage. With the ring
    # camera inside the room nothing of the room stands between the camera and an object (the
    # floor is below the objects, the walls behind them), so: mask == i only where object i
    # covers, 0 exactly where no object covers, and i where object i alone covers - except
    # at an object's foot, where it touches the floor: there the two surfaces tie in depth
    # and the floor, drawn first, can keep a pixel (GL_LESS). The colour pass keeps the same
    # floor pixel, so there the image is the empty room's (a pixel or two in 10^5).
    scenes, intrinsics, views = _recipe_scenes(recipe, 3)
    vr = ViewRenderer(intrinsics, views, antialias=False)
    seen, ties, alone = set(), 0, 0
    try:
        for spec, v in scenes:
            images, masks = vr.render(spec, v, masks=True)
            assert masks.shape == images.shape[:3] and masks.dtype == np.uint8
            ids = scene_spec.object_ids(spec)
            cover = {i: _alone(vr, spec, [m for m, k in zip(spec['meshes'], ids) if k == i], v)
                     for i in set(ids) - {0}}
            count = sum(c.astype(int) for c in cover.values())
            np.testing.assert_array_equal(masks[count == 0], 0)
            empty = vr.render(scene_spec.without_objects(spec), v)
            for i, c in cover.items():
                assert not ((masks == i) & ~c).any(), i
                only = c & (count == 1)
                tie = only & (masks != i)
                np.testing.assert_array_equal(masks[tie], 0)
                np.testing.assert_array_equal(images[tie], empty[tie])
                ties, alone = ties + tie.sum(), alone + only.sum()
                seen.add(i)
            # where objects overlap, one of those that cover the pixel (by the check above)
            assert (masks[count > 1] > 0).all()
            assert (masks > 0).mean() > 0.005  # objects in view
    finally:
        vr.close()
    assert ties <= 1e-3 * alone, (ties, alone)
    if recipe.startswith('shepard'):
        assert seen == {1}  # the cubes are one object
    assert seen


@pytest.mark.parametrize('recipe', ['rooms_ring_camera', 'mnist_dice_ring_camera'])
def test_background_pixels_are_those_of_the_empty_scene(recipe):
    # Without shadows or antialiasing a pixel's colour depends only on the surface it shows
    # (pyrender lights each fragment from its own normal and material), so where the mask
    # says background the scene and its empty room (scene_spec.without_objects) agree.
    scenes, intrinsics, views = _recipe_scenes(recipe, 3)
    vr = ViewRenderer(intrinsics, views, antialias=False, shadows=False)
    try:
        for spec, v in scenes:
            images, masks = vr.render(spec, v, masks=True)
            empty = vr.render(scene_spec.without_objects(spec), v)
            background = masks == 0
            np.testing.assert_array_equal(images[background], empty[background])
            assert np.any(images != empty, axis=-1)[~background].mean() > 0.9
    finally:
        vr.close()


def test_masks_leave_images_alone_and_ignore_antialias():
    scenes = _scenes(3, 15, seed=5)
    masks_by_setting = []
    for antialias, shadows in ((False, False), (True, True)):
        vr = ViewRenderer(INTR, 15, antialias=antialias, shadows=shadows)
        try:
            out = []
            for spec, v in scenes:
                before = vr.render(spec, v)
                images, masks = vr.render(spec, v, masks=True)
                np.testing.assert_array_equal(images, before)  # same bytes with masks on
                np.testing.assert_array_equal(vr.render(spec, v), before)  # and after
                # 19 views are two rows: each view's mask comes back the same
                twice = vr.render(spec, np.concatenate([v, v[:4]]), masks=True)[1]
                np.testing.assert_array_equal(twice, np.concatenate([masks, masks[:4]]))
                if not antialias:  # black background, every object pixel lit
                    np.testing.assert_array_equal(masks > 0, images.max(-1) > 0)
                out.append(masks)
        finally:
            vr.close()
        masks_by_setting.append(out)
    # the id pass never multisamples and has no lighting: the same masks either way
    np.testing.assert_array_equal(*masks_by_setting)


def test_more_than_255_objects_render_without_masks_only():
    meshes = [scene_spec.mesh('box', np.eye(4), [1.0, 1.0, 1.0], extents=[0.1] * 3)
              for _ in range(256)]
    spec = scene_spec.scene('many', [0.0] * 3, 1.0, meshes, [])
    v = camera.look_at_origin([[0.0, 0.0, 6.0]])
    vr = ViewRenderer(INTR, 1)
    try:
        assert vr.render(spec, v).shape == (1, 64, 64, 3)
        with pytest.raises(GQNError, match='masks hold at most 255'):
            vr.render(spec, v, masks=True)
        # grouped into one object with the mesh key, they render with masks
        grouped = dict(spec, meshes=[dict(m, object=7) for m in meshes])
        assert set(np.unique(vr.render(grouped, v, masks=True)[1])) == {0, 7}
    finally:
        vr.close()
