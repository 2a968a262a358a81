"""A trained run as ``gqn eval`` and ``gqn gif`` load it: model, config, dataset, device."""
import os


class Run:
    """A trained model and what its run directory says about it.

    Attributes:
        model (~gqn.model.gqn.GQN): the trained model (on the CPU until :meth:`open`).
        run_dir (str or None): its run directory (``None`` for a bare model folder
            or snapshot outside one).
        config (~gqn.training.config.TrainConfig or None): the run's ``config.json``.
        root (str): the dataset root to use: the one asked for, else the run's.
    """

    def __init__(self, model, run_dir, config, root):
        self.model, self.run_dir, self.config, self.root = model, run_dir, config, root

    def open(self, device, split):
        """Put the model on ``device`` (a Chainer device specifier) and open ``split``.

        Returns:
            tuple: the ``chainer.backend.Device`` and the
            :class:`~gqn.data.shard_dataset.ShardDataset`, checked against the model.

        Raises:
            GQNError: an unusable device, a missing split, or images that do not fit
                the model.
        """
        from gqn.cuda import get_device
        from gqn.data.shard_dataset import ShardDataset
        device = get_device(device)
        self.model.to_device(device)
        dataset = ShardDataset(self.root, split)
        dataset.check_compatible(self.model.hp)
        return device, dataset


def load_run(path, dataset=None):
    """Load a trained model from a run directory, its ``model/`` folder or a snapshot.

    Args:
        path (str): what to load (see :func:`gqn.training.snapshot.load_trained`); a
            shipped model (``pretrained:NAME``) brings the ``config.json`` of the run that
            trained it (its objective and sigma; its dataset is not on this machine).
        dataset (str or None): a dataset root; ``None``: the run's own dataset.

    Returns:
        Run: the loaded run.

    Raises:
        GQNError: nothing loadable at ``path``, or no dataset given or recorded.
    """
    from gqn.errors import GQNError
    from gqn.training.config import TrainConfig
    from gqn.training.snapshot import PRETRAINED, load_trained, pretrained_folder
    model, run_dir = load_trained(path)
    config = None
    folder = pretrained_folder(path) if path.startswith(PRETRAINED) else run_dir
    if folder and os.path.exists(os.path.join(folder, 'config.json')):
        config = TrainConfig.from_json(os.path.join(folder, 'config.json'))
    root = dataset or (config.dataset if config and not path.startswith(PRETRAINED) else None)
    if not root:
        raise GQNError('no dataset: pass --dataset ROOT')
    return Run(model, run_dir, config, root)
