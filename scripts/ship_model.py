"""Put a trained run's model into the package as ``pretrained:NAME``.

Writes ``gqn/pretrained/NAME/``: ``hyperparams.json``, ``model.npz`` (the weights in
float16, compressed; loaded back as float32) and the run's ``config.json`` (its objective
and sigma, for ``gqn eval``). The model card (``README.md``: the data recipe and seeds,
the command that reproduces it, its held-out figures in float16 and float32) is written
by hand beside them. Replace a shipped model rather than adding another.

Usage: python scripts/ship_model.py RUN NAME
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    run, name = sys.argv[1:]
    from gqn import files  # first: the shims that let Chainer import on NumPy 2
    # isort: split
    import chainer
    import numpy as np

    from gqn.training.snapshot import PRETRAINED_DIR, load_trained
    model, run_dir = load_trained(run)
    out = os.path.join(PRETRAINED_DIR, name)
    os.makedirs(out, exist_ok=True)
    model.hp.to_json(os.path.join(out, 'hyperparams.json'))
    weights = chainer.serializers.DictionarySerializer()
    weights.save(model)
    half = {k: np.asarray(v).astype(np.float16) if np.asarray(v).dtype == np.float32 else v
            for k, v in weights.target.items()}
    files.atomic_write(os.path.join(out, 'model.npz'),
                       lambda f: np.savez_compressed(f, **half))
    config = files.read_json(os.path.join(run_dir, 'config.json'), 'config')
    from gqn.data import shards
    manifest = shards.read_manifest(config['dataset']) if os.path.isdir(config['dataset']) else None
    if manifest and manifest.get('name'):  # the recipe, not a path on this machine
        config['dataset'] = 'datasets/' + manifest['name']
    files.atomic_write_json(os.path.join(out, 'config.json'), config)
    size = os.path.getsize(os.path.join(out, 'model.npz'))
    print('wrote %s (model.npz %.1f MB)' % (out, size / 1e6))


if __name__ == '__main__':
    main()
