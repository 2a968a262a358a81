"""TFRecord files and ``tf.train.Example`` protobufs, without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64  length                           little endian
    uint32  masked CRC-32C of the 8 length bytes
    bytes   data[length]
    uint32  masked CRC-32C of data

with ``mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2**32)``.

An ``Example`` is the protobuf (proto3 wire format)::

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }   // entries {key = 1; value = 2}
    Feature   { oneof kind { BytesList bytes_list = 1;
                             FloatList float_list = 2;
                             Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1; }            // packed or not
    Int64List { repeated int64 value = 1; }            // packed or not

:func:`read_records` and :func:`parse_example` read them;
:mod:`gqn.testing.records` writes them (for tests and benchmarks).
"""
import os
import struct
import warnings

import crc32c
import numpy as np

from gqn.errors import GQNError

HEADER_SIZE = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_SIZE = 4   # uint32 masked CRC of the data
_MASK_DELTA = 0xa282ead8
#: Protobuf wire types.
VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5


def masked_crc32c(data):
    """TFRecord's masked CRC-32C (Castagnoli) of ``data`` (bytes-like), an int."""
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xffffffff


class CorruptRecordError(GQNError):
    """A record that fails its checks, located by file and byte offset.

    Args:
        path (str): The TFRecord file.
        offset (int): Byte offset of the record's header in the file.
        reason (str): What is wrong.
    """

    def __init__(self, path, offset, reason):
        super().__init__(path, offset, reason)
        self.path = path
        self.offset = offset
        self.reason = reason

    def __str__(self):
        return '%s: record at byte offset %d: %s' % (self.path, self.offset, self.reason)


def _warn(err):
    warnings.warn('skipped ' + str(err), stacklevel=3)


def read_records(path, on_corrupt='fail', report=None):
    """Stream the records of a TFRecord file, verifying both checksums.

    Reads one record at a time, so memory does not grow with the file.
    A record whose data checksum fails is skipped and reading goes on after
    it; a bad length checksum or a truncated record ends the file, since
    nothing after it can be framed.

    Args:
        path (str): The TFRecord file.
        on_corrupt (str): ``'fail'`` raises :class:`CorruptRecordError` at
            the first bad record; ``'skip'`` calls ``report`` and goes on.
        report (callable or None): ``report(err)`` with a
            :class:`CorruptRecordError` for every skipped record; by default
            a warning.

    Yields:
        tuple: ``(offset, data)``: the record's byte offset and its payload
        (``bytes``).
    """
    if on_corrupt not in ('fail', 'skip'):
        raise ValueError("on_corrupt must be 'fail' or 'skip', got %r" % (on_corrupt,))
    report = report or _warn

    def bad(offset, reason):
        err = CorruptRecordError(path, offset, reason)
        if on_corrupt == 'fail':
            raise err
        report(err)

    with open(path, 'rb') as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            header = f.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                bad(offset, 'truncated header (%d of %d bytes)' % (len(header), HEADER_SIZE))
                return
            length, length_crc = struct.unpack('<QI', header)
            if masked_crc32c(header[:8]) != length_crc:
                bad(offset, 'length checksum mismatch; the remaining %d bytes of the file '
                    'cannot be framed' % (size - offset))
                return
            end = offset + HEADER_SIZE + length + FOOTER_SIZE
            if end > size:
                bad(offset, 'truncated record (%d bytes declared, %d left in the file)'
                    % (length + FOOTER_SIZE, size - offset - HEADER_SIZE))
                return
            data = f.read(length)
            (data_crc,) = struct.unpack('<I', f.read(FOOTER_SIZE))
            if masked_crc32c(data) != data_crc:
                bad(offset, 'data checksum mismatch (%d bytes)' % length)
            else:
                yield offset, data
            offset = end


# ---------------------------------------------------------------- Example

def _read_varint(buf, pos, end):
    result = shift = 0
    while pos < end:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7f) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError('varint longer than 10 bytes')
    raise ValueError('truncated varint')


def _fields(buf, pos, end):
    """Yield ``(field, wire_type, value)``; ``value`` is an int, or for
    length-delimited fields the ``(start, stop)`` of the payload."""
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _read_varint(buf, pos, end)
        elif wire == BYTES:
            n, pos = _read_varint(buf, pos, end)
            if pos + n > end:
                raise ValueError('field %d: %d-byte payload overruns its message' % (field, n))
            value = (pos, pos + n)
            pos += n
        elif wire in (FIXED32, FIXED64):
            n = 4 if wire == FIXED32 else 8
            if pos + n > end:
                raise ValueError('field %d: truncated fixed-width value' % field)
            value = (pos, pos + n)
            pos += n
        else:
            raise ValueError('field %d: unsupported wire type %d' % (field, wire))
        yield field, wire, value


def _to_int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _parse_feature(buf, pos, end):
    kind, values = None, []
    for field, wire, value in _fields(buf, pos, end):
        if field not in (1, 2, 3) or wire != BYTES:
            continue
        if field != kind:  # oneof: the last kind set wins
            kind, values = field, []
        for f, w, v in _fields(buf, *value):
            if f != 1:
                continue
            if kind == 1 and w == BYTES:
                values.append(bytes(buf[v[0]:v[1]]))
            elif kind == 2 and w == BYTES:
                if (v[1] - v[0]) % 4:
                    raise ValueError('packed float list of %d bytes' % (v[1] - v[0]))
                values.append(np.frombuffer(buf[v[0]:v[1]], '<f4'))
            elif kind == 2 and w == FIXED32:
                values.append(np.frombuffer(buf[v[0]:v[1]], '<f4'))
            elif kind == 3 and w == BYTES:
                p, stop, ints = v[0], v[1], []
                while p < stop:
                    x, p = _read_varint(buf, p, stop)
                    ints.append(_to_int64(x))
                values.append(np.array(ints, np.int64))
            elif kind == 3 and w == VARINT:
                values.append(np.array([_to_int64(v)], np.int64))
            else:
                raise ValueError('wire type %d in a %s' % (
                    w, ('BytesList', 'FloatList', 'Int64List')[kind - 1]))
    if kind == 2:
        return np.concatenate(values).astype(np.float32) if values else np.zeros(0, np.float32)
    if kind == 3:
        return np.concatenate(values) if values else np.zeros(0, np.int64)
    return values


def parse_example(data):
    """Decode a serialized ``tf.train.Example``.

    Args:
        data (bytes): One record's payload.

    Returns:
        dict: feature name to value: a ``list`` of ``bytes`` for a
        ``bytes_list`` (or a feature with no kind set), a float32
        ``(n,)`` array for a ``float_list``, an int64 ``(n,)`` array for an
        ``int64_list``.

    Raises:
        ValueError: ``data`` is not a well-formed Example.
    """
    buf = memoryview(data)
    features = {}
    for field, wire, value in _fields(buf, 0, len(buf)):
        if field != 1 or wire != BYTES:
            continue
        for f, w, entry in _fields(buf, *value):
            if f != 1 or w != BYTES:
                continue
            key, feature = '', []
            for ef, ew, ev in _fields(buf, *entry):
                if ef == 1 and ew == BYTES:
                    try:
                        key = str(buf[ev[0]:ev[1]], 'utf-8')
                    except UnicodeDecodeError:
                        raise ValueError('feature name is not UTF-8') from None
                elif ef == 2 and ew == BYTES:
                    feature = _parse_feature(buf, *ev)
            features[key] = feature
    return features
