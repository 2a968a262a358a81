"""Writing TFRecord files and DeepMind-schema records, for tests and benchmarks.

The inverse of the readers in :mod:`gqn.data.tfrecord` and :mod:`gqn.data.deepmind`:
:func:`write_records` frames records into a file, :func:`encode_example`
serializes a ``tf.train.Example`` and :func:`encode_scene` makes one scene of the
gqn-datasets schema (real JPEG frames).
"""
import io
import struct

import numpy as np

from gqn.data import tfrecord


def frame_record(data):
    """The bytes of one framed record holding ``data``."""
    length = struct.pack('<Q', len(data))
    return b''.join((length, struct.pack('<I', tfrecord.masked_crc32c(length)), data,
                     struct.pack('<I', tfrecord.masked_crc32c(data))))


def write_records(path, records):
    """Write ``records`` (an iterable of bytes) to a new TFRecord file ``path``."""
    with open(path, 'wb') as f:
        for data in records:
            f.write(frame_record(data))


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _delimited(field, payload):
    return _varint(field << 3 | tfrecord.BYTES) + _varint(len(payload)) + payload


def _encode_feature(value, packed):
    if isinstance(value, (list, tuple)) and all(isinstance(v, bytes) for v in value):
        return _delimited(1, b''.join(_delimited(1, v) for v in value))
    array = np.asarray(value)
    if array.dtype.kind == 'f':
        floats = array.astype('<f4').ravel()
        if packed:
            body = _delimited(1, floats.tobytes())
        else:
            tag = _varint(1 << 3 | tfrecord.FIXED32)
            body = b''.join(tag + x.tobytes() for x in floats)
        return _delimited(2, body)
    if array.dtype.kind in 'iub':
        ints = [int(x) for x in array.ravel()]
        if packed:
            body = _delimited(1, b''.join(_varint(x) for x in ints))
        else:
            tag = _varint(1 << 3 | tfrecord.VARINT)
            body = b''.join(tag + _varint(x) for x in ints)
        return _delimited(3, body)
    raise TypeError('cannot encode a feature of type %s' % type(value).__name__)


def encode_example(features, packed=True):
    """Serialize a ``tf.train.Example``, the inverse of :func:`parse_example`.

    Args:
        features (dict): feature name to a list of ``bytes`` (bytes_list),
            a float sequence or array (float_list, stored as float32) or an
            integer sequence or array (int64_list).
        packed (bool): Write float and int64 lists packed, as TensorFlow
            does; ``False`` writes one tagged value each.

    Returns:
        bytes: The serialized Example; keys in sorted order.
    """
    entries = b''.join(
        _delimited(1, _delimited(1, key.encode('utf-8'))
                   + _delimited(2, _encode_feature(features[key], packed)))
        for key in sorted(features))
    return _delimited(1, entries)


def encode_scene(images, cameras, quality=90):
    """A record in the gqn-datasets schema, the inverse of :func:`gqn.data.deepmind.decode_scene`.

    The frames become real JPEGs (Pillow).

    Args:
        images (numpy.ndarray): uint8 ``(views, H, W, 3)``.
        cameras (numpy.ndarray): ``(views, 5)`` = ``(x, y, z, yaw, pitch)``.
        quality (int): JPEG quality.

    Returns:
        bytes: A serialized ``tf.train.Example`` with ``frames`` and ``cameras``.
    """
    from PIL import Image

    frames = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(np.asarray(image, np.uint8)).save(buf, 'JPEG', quality=quality)
        frames.append(buf.getvalue())
    cameras = np.asarray(cameras, np.float32).reshape(-1)
    return encode_example({'frames': frames, 'cameras': cameras})
