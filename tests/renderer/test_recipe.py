import pytest

from gqn.errors import GQNError
from gqn.resources import parse_override
from renderer.recipe import find_recipe, load_recipe


def test_bare_names_and_defaults():
    name, recipe = load_recipe('shepard_matzler_7')
    assert name == 'shepard_matzler_7'
    assert recipe['scene']['cubes'] == 7 and recipe['views'] == 15 and recipe['image_size'] == 64
    name, small = load_recipe('shepard_matzler_small')
    assert small['train_scenes'] <= 5000 and small['test_scenes'] <= 500
    assert small['camera'] == recipe['camera'] and small['scene'] == recipe['scene']
    assert find_recipe('shepard_matzler_small').endswith('datasets/shepard_matzler_small.toml')


def test_overrides():
    assert parse_override('scene.cubes=[2, 5]') == (('scene', 'cubes'), [2, 5])
    assert parse_override('antialias=true') == (('antialias',), True)
    assert parse_override('camera.type=sphere') == (('camera', 'type'), 'sphere')
    _, recipe = load_recipe('shepard_matzler_small', ['scene.cubes=5', 'camera.yfov_deg=40',
                                                      'seed=3'])
    assert (recipe['scene']['cubes'], recipe['camera']['yfov_deg'], recipe['seed']) == (5, 40, 3)


@pytest.mark.parametrize('override, message', [
    ('colour=1', "unknown recipe key 'colour'"),
    ('scene.cube=1', "unknown recipe key 'scene.cube'"),
    ('camera.fov=1', "unknown recipe key 'camera.fov'"),
    ('image_size=0', 'image_size must be positive'),
    ('scenes_per_shard=-1', 'scenes_per_shard must be positive'),
    ('views=1', 'views must be at least 2'),
    ('views=2.5', 'views must be int'),
    ('family=kitchen', 'unknown scene family'),
    ('image_size=4097', 'image_size must be at most 4096'),
    ('scene.cubes=[2, 1001]', r'scene.cubes must be an int in 1\.\.1000'),
    ('scene.colors=1531', r'scene.colors must be an int in 1\.\.1530'),
    ('scene.cube_size=nan', 'scene.cube_size must be a finite number'),
    ('camera.min_distance=-1e7', 'camera.min_distance must be a finite number'),
    ('scene.ambient=dim', "scene.ambient must be a number, got 'dim'"),
])
def test_bad_recipes(override, message):
    with pytest.raises(GQNError, match=message):
        load_recipe('shepard_matzler_small', [override])


def test_missing_recipe():
    with pytest.raises(GQNError, match='shepard_matzler_small'):
        load_recipe('no_such_recipe')
