import numpy as np
import pytest

from gqn.ops.random_state import LatentNoise, fixed_seed, latent_noise


def test_unkeyed_noise_is_numpy_random():
    noise = LatentNoise()
    np.random.seed(5)
    a = noise.standard_normal(np, (3, 4), np.float32)
    np.random.seed(5)
    np.testing.assert_array_equal(a, np.random.standard_normal((3, 4)).astype(np.float32))
    assert a.dtype == np.float32


def test_keyed_noise_depends_on_the_key_only():
    noise = LatentNoise()
    noise.set_key(0, 1, 7)
    a = noise.standard_normal(np, (1000,), np.float32)
    b = noise.standard_normal(np, (1000,), np.float32)     # the stream goes on
    np.random.seed(123)                                    # the global generator is irrelevant
    noise.set_key(0, 1, 7)
    np.testing.assert_array_equal(noise.standard_normal(np, (1000,), np.float32), a)
    np.testing.assert_array_equal(noise.standard_normal(np, (1000,), np.float32), b)
    for other in ((0, 1, 8), (0, 2, 7), (1, 1, 7)):
        noise.set_key(*other)
        assert np.abs(noise.standard_normal(np, (1000,), np.float32) - a).max() > 1
    assert abs(a.mean()) < 0.1 and abs(a.std() - 1) < 0.1
    noise.set_key(0, 1, 7)
    assert noise.standard_normal(np, (4,), np.float64).dtype == np.float64


def test_fixed_seed_restores_the_training_key_and_position():
    latent_noise.set_key(3, 0, 10)
    first = latent_noise.standard_normal(np, (5,), np.float32)
    with fixed_seed(99):
        inside = latent_noise.standard_normal(np, (5,), np.float32)
    after = latent_noise.standard_normal(np, (5,), np.float32)
    latent_noise.set_key(3, 0, 10)
    expected = latent_noise.standard_normal(np, (10,), np.float32)
    np.testing.assert_array_equal(np.concatenate([first, after]), expected)
    with fixed_seed(99):
        np.testing.assert_array_equal(latent_noise.standard_normal(np, (5,), np.float32), inside)
    latent_noise.set_key()
    assert latent_noise.key is None


def test_row_keyed_noise_is_each_rows_own_stream():
    """Row i of every draw comes from the generator of keys[i] alone: the same rows in
    another batch (another size, another order) get the same noise."""
    keys = [(5, scene, 2) for scene in range(6)]
    noise = LatentNoise()
    with noise.keyed_rows(keys):
        whole = [noise.standard_normal(np, (6, 2, 3, 3), np.float32) for _ in range(3)]
    assert whole[0].shape == (6, 2, 3, 3) and whole[0].dtype == np.float32
    for rows in ([4], [1, 2, 3], [5, 0, 3]):
        with noise.keyed_rows([keys[i] for i in rows]):
            for draw in whole:
                np.testing.assert_array_equal(
                    noise.standard_normal(np, (len(rows), 2, 3, 3), np.float32), draw[rows])
    # a row's stream is the stream of its key used alone
    noise.set_key(5, 3, 2)
    np.testing.assert_array_equal(noise.standard_normal(np, (2, 3, 3), np.float32), whole[0][3])
    assert np.abs(whole[0][0] - whole[0][1]).max() > 1  # the rows differ
    with noise.keyed_rows(keys), pytest.raises(ValueError, match='6 row keys'):
        noise.standard_normal(np, (4, 2), np.float32)
    assert noise.key == (5, 3, 2)  # the key before the block, its position kept


def test_row_keys_leave_the_training_stream_alone():
    latent_noise.set_key(3, 0, 10)
    first = latent_noise.standard_normal(np, (5,), np.float32)
    with latent_noise.keyed_rows([(1, 2, 3), (4, 5, 6)]):
        assert latent_noise.key is None
        latent_noise.standard_normal(np, (2, 5), np.float32)
    after = latent_noise.standard_normal(np, (5,), np.float32)
    latent_noise.set_key(3, 0, 10)
    np.testing.assert_array_equal(np.concatenate([first, after]),
                                  latent_noise.standard_normal(np, (10,), np.float32))
    latent_noise.set_key()


@pytest.mark.gpu
def test_row_keyed_noise_on_cupy(cupy):
    noise = LatentNoise()
    keys = [(0, scene, 1) for scene in range(4)]
    with noise.keyed_rows(keys):
        a = noise.standard_normal(cupy, (4, 1000), np.float32)
    with noise.keyed_rows(keys[2:0:-1]):
        cupy.testing.assert_array_equal(noise.standard_normal(cupy, (2, 1000), np.float32),
                                        a[2:0:-1])
    assert a.dtype == np.float32 and abs(float(a.std()) - 1) < 0.1


@pytest.mark.gpu
def test_keyed_noise_on_cupy(cupy):
    noise = LatentNoise()
    noise.set_key(0, 0, 1)
    a = noise.standard_normal(cupy, (1000,), np.float32)
    noise.set_key(0, 0, 1)
    cupy.testing.assert_array_equal(noise.standard_normal(cupy, (1000,), np.float32), a)
    assert a.dtype == np.float32 and abs(float(a.std()) - 1) < 0.1
