import struct

import numpy as np
import pytest

from gqn.data import tfrecord
from gqn.errors import GQNError
from gqn.testing.records import encode_example, frame_record, write_records


def crc32c_bitwise(data):
    """Reference CRC-32C, one bit at a time (reflected polynomial 0x82f63b78)."""
    c = 0xffffffff
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff


def mask(c):
    return (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff


def test_masked_crc32c_matches_reference():
    assert crc32c_bitwise(b'123456789') == 0xe3069283  # the standard check value
    rng = np.random.RandomState(0)
    for data in [b'', b'\x00' * 32, b'123456789', rng.bytes(1000)]:
        assert tfrecord.masked_crc32c(data) == mask(crc32c_bitwise(data))


def test_frame_layout():
    framed = frame_record(b'abc')
    assert len(framed) == 8 + 4 + 3 + 4
    assert framed[:8] == struct.pack('<Q', 3)
    assert struct.unpack('<I', framed[8:12])[0] == mask(crc32c_bitwise(framed[:8]))
    assert framed[12:15] == b'abc'
    assert struct.unpack('<I', framed[15:])[0] == mask(crc32c_bitwise(b'abc'))


def write(tmp_path, records, name='a.tfrecord'):
    path = str(tmp_path / name)
    write_records(path, records)
    return path


RECORDS = [b'first', b'', b'x' * 3000, b'last one']
OFFSETS = np.cumsum([0] + [16 + len(r) for r in RECORDS[:-1]]).tolist()


def test_read_round_trip(tmp_path):
    path = write(tmp_path, RECORDS)
    assert list(tfrecord.read_records(path)) == list(zip(OFFSETS, RECORDS))
    assert list(tfrecord.read_records(write(tmp_path, [], 'empty.tfrecord'))) == []


def corrupt(path, position, truncate=None):
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    if truncate is not None:
        data = data[:truncate]
    else:
        data[position] ^= 0x01
    with open(path, 'wb') as f:
        f.write(bytes(data))


def read_skipping(path):
    errors = []
    good = list(tfrecord.read_records(path, 'skip', report=errors.append))
    return good, [(e.offset, e.reason) for e in errors]


@pytest.mark.parametrize('where', ['data', 'data_crc'])
def test_flipped_data_byte_skips_only_that_record(tmp_path, where):
    path = write(tmp_path, RECORDS)
    record = 2
    position = OFFSETS[record] + (12 + 5 if where == 'data' else 12 + len(RECORDS[record]) + 1)
    corrupt(path, position)
    with pytest.raises(tfrecord.CorruptRecordError) as e:
        list(tfrecord.read_records(path))
    assert e.value.offset == OFFSETS[record] and e.value.path == path
    assert isinstance(e.value, GQNError)
    assert '%s: record at byte offset %d: data checksum mismatch' % (path, OFFSETS[record]) \
        in str(e.value)
    good, errors = read_skipping(path)
    assert good == [(o, r) for i, (o, r) in enumerate(zip(OFFSETS, RECORDS)) if i != record]
    assert [o for o, _ in errors] == [OFFSETS[record]]


@pytest.mark.parametrize('position', [0, 7, 9])
def test_flipped_length_byte_ends_the_file(tmp_path, position):
    path = write(tmp_path, RECORDS)
    corrupt(path, OFFSETS[1] + position)
    good, errors = read_skipping(path)
    assert good == [(OFFSETS[0], RECORDS[0])]
    assert len(errors) == 1 and errors[0][0] == OFFSETS[1]
    assert 'length checksum mismatch' in errors[0][1]


@pytest.mark.parametrize('cut,reason', [(5, 'truncated header'), (12, 'truncated record'),
                                        (14, 'truncated record'), (-2, 'truncated record')])
def test_truncated_file(tmp_path, cut, reason):
    path = write(tmp_path, RECORDS)
    size = OFFSETS[-1] + 16 + len(RECORDS[-1])
    corrupt(path, None, truncate=OFFSETS[-1] + cut if cut >= 0 else size + cut)
    good, errors = read_skipping(path)
    assert good == list(zip(OFFSETS, RECORDS))[:-1]
    assert len(errors) == 1 and errors[0][0] == OFFSETS[-1] and errors[0][1].startswith(reason)
    with pytest.raises(tfrecord.CorruptRecordError, match='byte offset %d: %s'
                       % (OFFSETS[-1], reason)):
        list(tfrecord.read_records(path, 'fail'))


def test_skip_without_report_warns(tmp_path):
    path = write(tmp_path, RECORDS)
    corrupt(path, OFFSETS[0] + 13)
    with pytest.warns(UserWarning, match='skipped .*byte offset 0: data checksum'):
        assert len(list(tfrecord.read_records(path, 'skip'))) == 3
    with pytest.raises(ValueError, match='on_corrupt'):
        list(tfrecord.read_records(path, 'ignore'))


def test_example_round_trip():
    features = {
        'frames': [b'\xff\xd8jpeg', b'', bytes(range(256))],
        'cameras': np.array([0.5, -1.25, 3e-8, np.pi], np.float32),
        'ids': np.array([0, 1, -1, 2 ** 62, -2 ** 63], np.int64),
        'empty': [],
    }
    for packed in (True, False):
        parsed = tfrecord.parse_example(encode_example(features, packed=packed))
        assert sorted(parsed) == sorted(features)
        assert parsed['frames'] == features['frames']
        assert parsed['empty'] == []
        assert parsed['cameras'].dtype == np.float32
        np.testing.assert_array_equal(parsed['cameras'], features['cameras'])
        assert parsed['ids'].dtype == np.int64
        np.testing.assert_array_equal(parsed['ids'], features['ids'])


def test_parse_hand_written_wire_bytes():
    # Example{features{feature{key: "a" value{int64_list{value: [1]}}}}}, packed
    data = bytes.fromhex('0a0c' '0a0a' '0a0161' '1205' '1a03' '0a0101')
    assert tfrecord.parse_example(data)['a'].tolist() == [1]
    # feature "f": float_list, one unpacked value 1.0 then a packed [2.0];
    # feature "b": bytes_list ["hi"]; plus an unknown varint field 7 = 5
    floats = b'\x0d' + struct.pack('<f', 1.0) + b'\x0a\x04' + struct.pack('<f', 2.0)
    f_feature = b'\x12' + bytes([len(floats)]) + floats
    f_entry = b'\x0a\x01f' + b'\x12' + bytes([len(f_feature)]) + f_feature
    b_feature = bytes.fromhex('0a04' '0a026869')
    b_entry = b'\x0a\x01b' + b'\x12' + bytes([len(b_feature)]) + b_feature
    features = (b'\x0a' + bytes([len(f_entry)]) + f_entry
                + b'\x0a' + bytes([len(b_entry)]) + b_entry)
    data = b'\x38\x05' + b'\x0a' + bytes([len(features)]) + features
    parsed = tfrecord.parse_example(data)
    assert parsed['f'].tolist() == [1.0, 2.0]
    assert parsed['b'] == [b'hi']


@pytest.mark.parametrize('data', [b'\x0a\x05\x0a\x03', b'\x0a', b'\x0b\x00',
                                  b'\x0a\x03\x0a\x01\x0a', b'\x80' * 11])
def test_malformed_example_raises_value_error(data):
    with pytest.raises(ValueError):
        tfrecord.parse_example(data)
