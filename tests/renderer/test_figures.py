"""The camera-convention figure is drawn by the renderer and shows the convention."""
import numpy as np

from renderer import figures


def test_figure_renders_and_shows_axes_where_the_convention_says():
    image = figures.make_figure(size=128)
    assert image.shape == (128 + 40, 128 + 2 * 64 + 10, 3) and image.dtype == np.uint8
    assert image.std() > 10
    # the yaw-0 view (camera on +z looking at -z, small tile top right): +x (red) is right of centre
    tile = image[:64, 128 + 10:128 + 10 + 64].astype(int)
    red = (tile[..., 0] > 150) & (tile[..., 1] < 100) & (tile[..., 2] < 100)
    cols = np.nonzero(red)[1]
    assert len(cols) > 3 and cols.mean() > 40
