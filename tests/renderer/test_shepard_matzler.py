import colorsys
import json

import numpy as np
import pytest

from gqn.errors import GQNError
from renderer.shepard_matzler import ShepardMatzler


def test_walk_is_self_avoiding_face_adjacent_and_centred():
    family = ShepardMatzler({'cubes': 7})
    rng = np.random.default_rng(0)
    for _ in range(200):
        spec = family.sample(rng)
        c = np.array([np.array(m['pose'])[:3, 3] for m in spec['meshes']])
        assert len(c) == 7
        np.testing.assert_allclose(c.mean(axis=0), 0, atol=1e-12)
        steps = np.abs(np.diff(c, axis=0)).sum(axis=1)
        np.testing.assert_allclose(steps, 1.0)  # face-adjacent to the previous cube
        assert len({tuple(np.round(p, 6)) for p in c}) == 7  # no two cubes overlap


def test_palette_random_count_and_spec_is_json():
    family = ShepardMatzler({'cubes': [2, 5], 'colors': 4, 'cube_size': 0.5})
    rng = np.random.default_rng(1)
    specs = [family.sample(rng) for _ in range(100)]
    counts = {len(s['meshes']) for s in specs}
    assert counts == {2, 3, 4, 5}
    palette = [list(colorsys.hsv_to_rgb(k / 4, 1, 1)) for k in range(4)]
    colors = {tuple(m['color']) for s in specs for m in s['meshes']}
    assert colors == {tuple(p) for p in palette}
    assert all(m['extents'] == [0.5, 0.5, 0.5] for s in specs for m in s['meshes'])
    assert json.loads(json.dumps(specs)) == specs  # JSON round trip is exact


def test_same_rng_same_scene():
    family = ShepardMatzler({})
    assert family.sample(np.random.default_rng(5)) == family.sample(np.random.default_rng(5))


@pytest.mark.parametrize('params', [{'cubes': 0}, {'cubes': [3, 2]}, {'colors': 0},
                                    {'cube_size': -1.0}, {'light_direction': [0, 0, 0]},
                                    {'background': [2, 0, 0]}])
def test_bad_parameters(params):
    with pytest.raises(GQNError):
        ShepardMatzler(params)
