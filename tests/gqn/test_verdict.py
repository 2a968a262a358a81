from gqn.evaluation import verdict


def result(model, nearest, mean):
    rows = [{'K': k + 1, 'model_mse': m, 'nearest_view_mse': n, 'mean_image_mse': a}
            for k, (m, n, a) in enumerate(zip(model, nearest, mean))]
    return {'rows': rows, 'scenes': 7,
            'beats_nearest_view': [r['K'] for r in rows if r['model_mse'] < r['nearest_view_mse']],
            'beats_mean_image': [r['K'] for r in rows if r['model_mse'] < r['mean_image_mse']]}


def test_verdict_names_every_k_where_a_baseline_wins():
    text = verdict(result([1, 1, 1], [2, 1.5, 0.5], [3, 3, 3]))
    assert 'beats the nearest-context-view baseline only at K = 1, 2; it does NOT at K = 3.' in text
    assert 'beats the mean-image baseline at every K (1..3).' in text
    assert text.endswith('(7 held-out scenes.)')


def test_verdict_says_when_the_model_is_no_better_than_the_mean_image():
    text = verdict(result([1, 1], [2, 2], [0.5, 0.5]))
    assert 'beats the nearest-context-view baseline at every K (1..2)' in text
    assert 'does NOT beat the mean-image baseline at any K' in text
    assert 'has not learned the scenes yet' in text
