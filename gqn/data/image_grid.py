"""uint8 image grids: model images to pixels, tiles in rows, nearest-neighbour PNGs.

Shared by the dataset preview (``gqn preview``), the training run's prediction
grids, ``gqn eval``'s example grid and the rotation GIF.
Imports Chainer only to convert model images (:func:`to_uint8`), so the renderer's
preview stays light.
"""
import numpy as np

from gqn import files


def to_uint8(x):
    """float ``(..., 3, H, W)`` in [0, 1] (NumPy or CuPy) → uint8 ``(..., H, W, 3)``."""
    import chainer
    x = chainer.backend.CpuDevice().send(x)
    x = np.clip(np.moveaxis(x, -3, -1), 0, 1)
    return (x * 255 + 0.5).astype(np.uint8)


def tile(rows, pad=2, background=64):
    """Tile a ragged list of rows of uint8 ``(H, W, 3)`` images (``None`` = a gap) into
    one uint8 image, ``pad`` pixels of grey ``background`` around and between tiles."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3),
                  background, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            if img is not None:
                y, x = pad + i * (h + pad), pad + j * (w + pad)
                out[y:y + h, x:x + w] = img
    return out


def upscale(image, scale):
    """uint8 ``(H, W, 3)`` enlarged ``scale`` times, nearest neighbour (``scale`` >= 1)."""
    if scale == 1:
        return image
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def save_png(path, image, scale=1):
    """Write uint8 ``(H, W, 3)`` to ``path`` as a PNG, atomically, :func:`upscale`\\ d."""
    from PIL import Image
    img = Image.fromarray(upscale(image, scale))
    files.atomic_write(path, lambda f: img.save(f, format='PNG'))
