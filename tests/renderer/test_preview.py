"""The instance mask overlay of ``gqn preview --masks`` (the CLI: test_render_dataset.py)."""
import numpy as np

from renderer.preview import mask_palette, overlay_masks


def test_each_object_gets_its_own_tint_and_the_background_none():
    palette = mask_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert len({tuple(c) for c in palette[1:]}) == 255  # ids 1..255 all distinct
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 8, 8, 3), dtype=np.uint8)
    masks = rng.integers(0, 4, (2, 3, 8, 8), dtype=np.uint8)
    out = overlay_masks(images, masks, alpha=0.5)
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[masks == 0], images[masks == 0])
    expected = np.round(0.5 * images + 0.5 * palette[masks].astype(float)).astype(np.uint8)
    np.testing.assert_array_equal(out[masks > 0], expected[masks > 0])
    # same image, two ids: two colours
    flat = np.full((1, 2, 3), 128, np.uint8)
    a, b = overlay_masks(flat, np.array([[1, 2]], np.uint8))[0]
    assert (a != b).any()
