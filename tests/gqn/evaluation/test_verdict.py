from gqn.evaluation.evaluate import verdict


def result(model, nearest, mean, width=0.001):
    rows = [{'K': k + 1, 'model_mse': m, 'model_mse_ci': [m - width, m + width],
             'nearest_view_mse': n, 'mean_image_mse': a, 'ratio_to_mean_image': m / a}
            for k, (m, n, a) in enumerate(zip(model, nearest, mean))]
    return {'rows': rows, 'scenes': 7,
            'beats_nearest_view': [r['K'] for r in rows if r['model_mse'] < r['nearest_view_mse']],
            'beats_mean_image': [r['K'] for r in rows if r['model_mse'] < r['mean_image_mse']]}


def test_verdict_leads_with_the_mean_image_and_its_interval():
    text = verdict(result([0.030, 0.025, 0.020], [0.04, 0.026, 0.01], [0.04, 0.04, 0.04]))
    assert text.startswith("Best: 0.500 × the mean image's MSE at K = 3 (0.02000, 95 % CI "
                           "0.01900–0.02100, against 0.04000).")
    assert 'The whole 95 % interval is below the mean image at every K (1..3).' in text
    assert 'From K = 1 to K = 3 the MSE falls from 0.03000 to 0.02000.' in text
    assert 'beats the nearest-context-view baseline only at K = 1, 2.' in text
    assert text.endswith('(7 held-out scenes.)')


def test_verdict_counts_an_interval_that_reaches_the_baseline_as_no_better():
    text = verdict(result([0.0395, 0.039], [0.05, 0.05], [0.04, 0.04], width=0.002))
    assert 'At no K is the model clearly better than the mean image' in text
    assert 'has not learned the scenes yet' in text and 'falls from 0.03950 to 0.03900' in text


def test_verdict_says_where_the_model_is_worse_than_the_mean_image():
    text = verdict(result([0.05, 0.03], [0.06, 0.06], [0.04, 0.04]))
    assert 'below the mean image only at K = 2.' in text
    assert 'worse than the mean image at K = 1.' in text
    assert 'It beats the nearest-context-view baseline at every K.' in text


def test_verdict_without_a_mean_image():
    r = result([0.03, 0.04], [0.02, 0.02], [1, 1])
    for row in r['rows']:
        row['mean_image_mse'] = row['ratio_to_mean_image'] = None
    text = verdict(r)
    assert 'No mean-image baseline' in text
    assert 'The MSE does NOT fall with more context (0.03000 at K = 1, 0.04000 at K = 2).' in text
    assert 'does NOT beat the nearest-context-view baseline at any K' in text


def with_no_context(r, mse, mean=0.04, width=0.001):
    """``r`` with a K = 0 row first (no nearest view), as :func:`evaluate` makes it."""
    zero = {'K': 0, 'model_mse': mse, 'model_mse_ci': [mse - width, mse + width],
            'nearest_view_mse': None, 'mean_image_mse': mean,
            'ratio_to_mean_image': None if mean is None else mse / mean}
    r['rows'].insert(0, zero)
    if mean is not None and mse < mean:
        r['beats_mean_image'].insert(0, 0)
    return r


def test_verdict_speaks_of_the_context_rows_and_of_k_0_apart():
    """K = 0 is better than the mean image here, yet not better than the nearest view (it has
    none): the sentences on K = 1..3 are those without the row, and K = 0 gets its own."""
    r = with_no_context(result([0.030, 0.025, 0.020], [0.04, 0.026, 0.01], [0.04, 0.04, 0.04]),
                        0.028)
    text = verdict(r)
    assert text.startswith("Best: 0.500 × the mean image's MSE at K = 3")
    assert 'The whole 95 % interval is below the mean image at every K (1..3).' in text
    assert 'From K = 1 to K = 3 the MSE falls from 0.03000 to 0.02000.' in text
    assert ("With no context view (K = 0) the MSE is 0.02800 (0.700 × the mean image's); the "
            "95 % interval is below it at K = 2, 3.") in text
    assert 'beats the nearest-context-view baseline only at K = 1, 2.' in text
    text = verdict(with_no_context(result([0.0395, 0.039], [0.05, 0.05], [0.04, 0.04]), 0.0392))
    assert ('With no context view (K = 0) the MSE is 0.03920 (0.980 × the mean image\'s); the '
            'context does NOT clearly help (at no K is the 95 % interval below it).') in text
    assert 'It beats the nearest-context-view baseline at every K.' in text
    r = with_no_context(result([0.03, 0.04], [0.02, 0.02], [1, 1]), 0.05, mean=None)
    for row in r['rows']:
        row['mean_image_mse'] = row['ratio_to_mean_image'] = None
    text = verdict(r)
    assert 'No mean-image baseline' in text and 'the MSE is 0.05000; the 95 % interval' in text


def test_markdown_table_shows_a_dash_for_the_nearest_view_at_k_0():
    from gqn.evaluation.evaluate import markdown_table
    r = with_no_context(result([0.03, 0.02], [0.04, 0.01], [0.04, 0.04]), 0.035)
    r['mean_samples'] = 4
    for row in r['rows']:
        row.update(model_psnr=15.0, sample_mean_mse=0.02, black_mse=0.1, nll=500.0, kl=1.0,
                   bpp=2.8)
    table = markdown_table(r)
    assert '\n| 0 | 0.03500 (0.03400–0.03600) | 15.00 | 0.875 | 0.02000 | 0.04000 | 0.10000 | — |' \
        in table
    assert '\n| 1 | 0.03000 (0.02900–0.03100) | 15.00 | 0.750 | 0.02000 | 0.04000 | 0.10000 | 0.04000 |' \
        in table
