import numpy as np
from PIL import Image

from gqn.data import image_grid


def test_tile_places_images_in_rows_with_gaps():
    a = np.full((2, 3, 3), 10, np.uint8)
    b = np.full((2, 3, 3), 200, np.uint8)
    grid = image_grid.tile([[a, None, b], [b]], pad=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 3)
    assert (grid[1:3, 1:4] == 10).all() and (grid[1:3, 5:8] == 64).all()  # None: background
    assert (grid[1:3, 9:12] == 200).all() and (grid[4:6, 1:4] == 200).all()
    assert (grid[0] == 64).all() and (grid[:, 4] == 64).all()


def test_to_uint8_rounds_and_clips_channels_last():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0], np.float32).reshape(1, 1, 5) * np.ones((3, 1, 1))
    assert image_grid.to_uint8(x.astype(np.float32)).tolist() == [[[v] * 3 for v in
                                                                  (0, 0, 128, 255, 255)]]


def test_upscale_is_pillows_nearest_resize_and_png_round_trips(tmp_path):
    image = np.random.RandomState(0).randint(0, 256, (5, 7, 3)).astype(np.uint8)
    pil = np.asarray(Image.fromarray(image).resize((21, 15), Image.NEAREST))
    np.testing.assert_array_equal(image_grid.upscale(image, 3), pil)
    path = str(tmp_path / 'grid.png')
    image_grid.save_png(path, image, scale=2)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image_grid.upscale(image, 2))
