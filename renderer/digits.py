"""Handwritten digit images for the MNIST-dice scenes, from local files only.

A *digit source* is a JSON-serialisable dict stored in every dice scene spec
and in the manifest:

* ``{"kind": "idx", "path": IMAGES}`` - the standard MNIST IDX files
  (``train-images-idx3-ubyte`` and its ``...-labels-idx1-ubyte`` beside it,
  gzipped or not);
* ``{"kind": "npz", "path": FILE}`` - an ``.npz`` with images and labels
  under ``x``/``y`` (Chainer's cache), ``x_train``/``y_train`` (Keras) or
  ``images``/``labels``; images ``(N, H, W)`` or ``(N, H*W)`` square, uint8
  0..255 or float 0..1;
* ``{"kind": "sklearn"}`` - the 1,797 handwritten 8x8 digits bundled with
  scikit-learn (UCI optdigits), scaled to 0..255; the offline default.

:func:`resolve_source` picks one for a ``[scene] mnist`` value: a path, or
``""`` for the first of Chainer's MNIST cache (only if already downloaded)
and scikit-learn. Nothing is ever downloaded.
"""
import functools
import gzip
import os

import numpy as np

from gqn.errors import GQNError

#: dtype codes of the IDX format (only unsigned bytes are MNIST's).
_IDX_UBYTE = 0x08


def chainer_mnist_path():
    """Where Chainer caches MNIST (``$CHAINER_DATASET_ROOT/pfnet/chainer/mnist/train.npz``)."""
    root = os.environ.get('CHAINER_DATASET_ROOT',
                          os.path.join(os.path.expanduser('~'), '.chainer', 'dataset'))
    return os.path.join(root, 'pfnet', 'chainer', 'mnist', 'train.npz')


def resolve_source(mnist):
    """The digit source dict of a ``[scene] mnist`` value (see module docstring)."""
    if not mnist:
        path = chainer_mnist_path()
        return {'kind': 'npz', 'path': path} if os.path.isfile(path) else {'kind': 'sklearn'}
    if os.path.isdir(mnist):
        for name in ('train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz',
                     'train-images.idx3-ubyte'):
            if os.path.isfile(os.path.join(mnist, name)):
                return {'kind': 'idx', 'path': os.path.join(mnist, name)}
        raise GQNError('%s: no train-images-idx3-ubyte[.gz] in this folder' % mnist)
    if not os.path.isfile(mnist):
        raise GQNError('%s: MNIST file not found' % mnist)
    return {'kind': 'npz' if mnist.endswith('.npz') else 'idx', 'path': mnist}


def _open(path):
    with open(path, 'rb') as f:
        gzipped = f.read(2) == b'\x1f\x8b'
    return gzip.open(path, 'rb') if gzipped else open(path, 'rb')


def read_idx(path):
    """An IDX file (gzipped or not) as a uint8 array of its shape."""
    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise GQNError('%s: cannot read IDX file (%s)' % (path, e)) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise GQNError('%s: not an IDX file (bad magic number)' % path)
    if data[2] != _IDX_UBYTE:
        raise GQNError('%s: IDX data type 0x%02x, expected unsigned bytes (0x08)' % (path, data[2]))
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise GQNError('%s: truncated IDX header' % path)
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype='>u4'))
    if len(data) - header != int(np.prod(shape)):
        raise GQNError('%s: IDX header says %s = %d bytes, file has %d'
                       % (path, 'x'.join(map(str, shape)), int(np.prod(shape)), len(data) - header))
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def labels_path(images_path):
    """The labels file beside an IDX images file (``images-idx3`` -> ``labels-idx1``)."""
    folder, name = os.path.split(images_path)
    if 'images-idx3' in name:
        return os.path.join(folder, name.replace('images-idx3', 'labels-idx1'))
    if 'images.idx3' in name:
        return os.path.join(folder, name.replace('images.idx3', 'labels.idx1'))
    raise GQNError('%s: cannot tell the labels file (expected a name with images-idx3)'
                   % images_path)


def _checked(images, labels, where):
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise GQNError('%s: flat images of %d pixels are not square' % (where, images.shape[1]))
        images = images.reshape(-1, side, side)
    if images.ndim != 3 or images.shape[1] != images.shape[2] or len(images) == 0:
        raise GQNError('%s: images must be (N, H, W) square, got %s' % (where, images.shape))
    if labels.shape != (len(images),):
        raise GQNError('%s: %d images but labels of shape %s' % (where, len(images), labels.shape))
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise GQNError('%s: labels must be integers 0..9' % where)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
            raise GQNError('%s: images must be uint8 or floats in 0..1, got %s' % (where, images.dtype))
        images = np.round(images * 255).astype(np.uint8)
    if len(np.unique(labels)) < 6:
        raise GQNError('%s: need at least 6 different digits for a die' % where)
    return images, labels.astype(np.int64)


def read_npz(path):
    """Images uint8 ``(N, S, S)`` and labels int64 ``(N,)`` of an MNIST ``.npz``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            for x, y in (('x', 'y'), ('x_train', 'y_train'), ('images', 'labels')):
                if x in keys and y in keys:
                    return _checked(f[x], f[y], path)
    except (OSError, ValueError) as e:
        raise GQNError('%s: cannot read npz (%s)' % (path, e)) from None
    raise GQNError('%s: no image/label arrays (have: %s; expected x/y, x_train/y_train or '
                   'images/labels)' % (path, ', '.join(sorted(keys))))


@functools.lru_cache(maxsize=4)
def _load(kind, path):
    if kind == 'idx':
        return _checked(read_idx(path), read_idx(labels_path(path)), path)
    if kind == 'npz':
        return read_npz(path)
    if kind == 'sklearn':
        try:
            from sklearn.datasets import load_digits as sklearn_digits
        except ImportError:
            raise GQNError('the offline digit source needs scikit-learn (pip install scikit-learn), '
                           'or pass --mnist PATH') from None
        d = sklearn_digits()
        return _checked(np.round(d.images * (255 / 16)).astype(np.uint8), d.target, 'sklearn digits')
    raise GQNError('unknown digit source kind %r (known: idx, npz, sklearn)' % (kind,))


def load_digits(source):
    """Images uint8 ``(N, S, S)`` and labels int64 ``(N,)`` of a digit source (cached)."""
    return _load(source['kind'], source.get('path'))


def resize(image, size):
    """A square uint8 image resized to ``size x size`` (bilinear)."""
    from PIL import Image
    if image.shape[0] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
