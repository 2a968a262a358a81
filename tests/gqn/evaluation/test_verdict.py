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


def with_objects(r, objects, empty=0.05, mean=0.04, width=0.002, fraction=0.091,
                 background=0.004):
    """``r`` with object figures: model object MSE ``objects`` per row (interval
    ``± width``), the empty scene's and the mean image's object MSE (``None``: absent)."""
    for row, obj in zip(r['rows'], objects):
        row.update(object_fraction=fraction, object_mse=obj,
                   object_mse_ci=None if obj is None else [obj - width, obj + width],
                   mean_image_object_mse=mean, empty_scene_object_mse=empty,
                   object_ratio_to_mean_image=None if obj is None or mean is None else obj / mean,
                   object_ratio_to_empty_scene=None if obj is None or empty is None
                   else obj / empty,
                   background_mse=background, background_mse_ci=[background * 0.9,
                                                                 background * 1.1],
                   background_ratio_to_mean_image=0.25)
    return r


def whole():
    return result([0.030, 0.025, 0.020], [0.04, 0.026, 0.01], [0.04, 0.04, 0.04])


def test_verdict_on_a_model_that_draws_the_objects():
    """The best K by object MSE (K = 2 here, not the whole image's K = 3): the whole
    interval below half the empty scene's and below the mean image's."""
    text = verdict(with_objects(whole(), [0.030, 0.012, 0.015]))
    assert ("On the objects' pixels (9.1 % of the query views) the model's MSE at K = 2 is "
            "0.01200 (95 % CI 0.01000–0.01400), 0.300 × the mean image's there (0.04000) and "
            "0.240 × the empty scene's (0.05000): it draws the objects (the whole interval is "
            "below 0.5 × the empty scene's and below the mean image's).") in text
    assert ("On the background its MSE is 0.00400 (95 % CI 0.00360–0.00440), 0.250 × the mean "
            "image's there.") in text
    assert text.startswith('Best: ') and text.endswith('(7 held-out scenes.)')


def test_verdict_on_a_model_that_drops_the_objects():
    # as bad as an empty room on the objects' pixels, and no better than the mean image there
    text = verdict(with_objects(whole(), [0.050, 0.049, 0.051], mean=0.045))
    assert ("the model's MSE at K = 2 is 0.04900 (95 % CI 0.04700–0.05100), 1.089 × the mean "
            "image's there (0.04500) and 0.980 × the empty scene's (0.05000): it does NOT draw "
            "the objects much better than an empty room (its interval reaches the empty "
            "scene's; it is worse than the mean image there).") in text
    # clearly better than an empty room, but not by half: still not drawing them
    text = verdict(with_objects(whole(), [0.040, 0.035, 0.038], mean=0.06))
    assert ("0.700 × the empty scene's (0.05000): it does NOT draw the objects much better "
            "than an empty room (its interval is below the empty scene's but not below 0.5 × "
            "it).") in text
    # below half the empty scene's, yet the mean image does as well there
    text = verdict(with_objects(whole(), [0.02, 0.02, 0.02], mean=0.021))
    assert 'it does NOT draw the objects much better than an empty room (its interval ' \
           "reaches the mean image's)." in text
    # worse than an empty room
    text = verdict(with_objects(whole(), [0.08, 0.07, 0.09], mean=None))
    assert ("0.07000 (95 % CI 0.06800–0.07200) and 1.400 × the empty scene's (0.05000): it "
            "does NOT draw the objects much better than an empty room (it is worse than the "
            "empty scene there).") in text


def test_verdict_on_objects_without_the_empty_scene_makes_no_claim():
    r = with_objects(whole(), [0.03, 0.02, 0.01], empty=None)
    r['empty_scene_note'] = 'not asked for'
    text = verdict(r)
    assert ("0.250 × the mean image's there (0.04000): whether it draws the objects needs the "
            "empty-scene baseline, not rendered here: not asked for; its whole interval is "
            "below the mean image's.") in text
    assert ': it draws the objects' not in text and 'does NOT draw' not in text


def test_verdict_when_no_query_view_shows_an_object_or_there_are_no_masks():
    r = with_objects(whole(), [None, None, None])
    assert 'No evaluated query view shows an object: no object-pixel figures.' in verdict(r)
    # K = 0 is left out, as in the other sentences
    r = with_no_context(with_objects(whole(), [0.03, 0.02, 0.025]), 0.03)
    with_objects({'rows': r['rows'][:1]}, [0.001])  # K = 0 lowest: not the one named
    assert 'at K = 2 is 0.02000' in verdict(r)
    # no masks, an empty scene rendered: its whole-image MSE
    r = whole()
    for row in r['rows']:
        row.update(empty_scene_mse=0.025, ratio_to_empty_scene=row['model_mse'] / 0.025)
    text = verdict(r)
    assert ("The empty scene (the objects removed) scores 0.02500 at K = 3, the model 0.800 × "
            "that (no instance masks: the objects' pixels are not scored apart).") in text
    assert "objects' pixels (" not in verdict(whole())


def test_markdown_table_adds_the_object_table():
    from gqn.evaluation.evaluate import markdown_table
    r = with_no_context(with_objects(whole(), [0.03, 0.012, 0.015]), 0.035)
    with_objects({'rows': r['rows'][:1]}, [0.04], empty=None)
    r['mean_samples'] = 4
    for row in r['rows']:
        row.update(model_psnr=15.0, sample_mean_mse=0.02, black_mse=0.1, nll=500.0, kl=1.0,
                   bpp=2.8)
    table = markdown_table(r)
    assert ('\n| K | object MSE (95 % CI) | × mean image (objects) | × empty scene (objects) | '
            'background MSE (95 % CI) | × mean image (background) | object fraction |\n') in table
    assert '\n| 0 | 0.04000 (0.03800–0.04200) | 1.000 | — | 0.00400 (0.00360–0.00440) | 0.250 ' \
           '| 9.1 % |\n' in table
    assert '\n| 2 | 0.01200 (0.01000–0.01400) | 0.300 | 0.240 | 0.00400 (0.00360–0.00440) | ' \
           '0.250 | 9.1 % |\n' in table
    assert table.index('| K | object MSE') < table.index('Best: ')
