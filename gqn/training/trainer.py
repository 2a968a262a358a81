"""Chainer's Trainer on rendered shards, paper schedules, exact resume.

The run directory holds everything a run writes::

    <run>/config.json            the TrainConfig actually used
    <run>/hyperparams.json       model hyperparameters
    <run>/log                    LogReport (JSON lines of means per log interval)
    <run>/*.png                  PlotReport curves (loss, nll, kl, mse, bpp, sigma, lr)
    <run>/images/                prediction grids (context | truth | prediction)
    <run>/snapshots/             trainer snapshots (+ hyperparams.json)
    <run>/model/                 the final model (hyperparams.json + model.npz)
    <run>/train.lock             while a process trains it (names the process)
"""
import contextlib
import os

#: The lock file a run directory holds while it trains (:func:`gqn.files.folder_lock`).
LOCK = 'train.lock'


class StopTrigger:
    """Stop at ``config.iterations``, after ``config.minutes`` of this invocation, or after
    the iteration in which a signal came (:func:`stop_on_signals` sets :attr:`signal`).

    With a ChainerMN communicator all ranks stop after the same iteration: rank 0's
    clock decides for every rank, and a signal on any rank stops them all. The progress
    bar (:class:`gqn.training.progress.TrainingProgress`) reads both limits from it.

    Attributes:
        signal (int): the signal this process was sent, 0 if none.
        stopped_by (int): the signal that stopped the run (the same on every rank), 0 if
            none did.
    """

    #: the code of a stop by the clock in the collective decision (signal numbers are >= 2)
    _TIMEOUT = 1

    def __init__(self, config, comm=None):
        import time
        self.iterations = config.iterations
        self.seconds = 60 * config.minutes
        self.comm = comm
        self.clock = time.monotonic
        self.start = self.clock()
        self.signal = 0
        self.stopped_by = 0

    def elapsed(self):
        """Seconds since this invocation started (on this rank's clock)."""
        return self.clock() - self.start

    def __call__(self, trainer):
        if trainer.updater.iteration >= self.iterations:
            return True
        timeout = bool(self.seconds) and self.clock() - self.start >= self.seconds
        if self.comm is None:
            self.stopped_by = self.signal
            return timeout or bool(self.signal)
        from mpi4py import MPI
        code = self.comm.mpi_comm.allreduce(
            max(self.signal, self._TIMEOUT if timeout and self.comm.rank == 0 else 0),
            op=MPI.MAX)
        self.stopped_by = code if code > self._TIMEOUT else 0
        return bool(code)



def rank_batch_size(batch_size, processes):
    """The scenes each of ``processes`` ranks trains on per step: ``batch_size`` is the
    global batch, split evenly.

    Raises:
        GQNError: when ``batch_size`` is not a multiple of ``processes``.
    """
    from gqn.errors import GQNError
    if batch_size % processes:
        raise GQNError('batch_size %d (the global batch) does not split evenly over %d '
                       'processes: use a multiple of %d' % (batch_size, processes, processes))
    return batch_size // processes


def _check_batch(config, comm):
    """Refuse a batch that does not split over the ranks before any rank starts. Every
    rank finds the same: rank 0 says why, once, and the others exit with status 2 quietly."""
    from gqn.errors import GQNError
    try:
        rank_batch_size(config.batch_size, 1 if comm is None else comm.size)
    except GQNError:
        if comm is not None and comm.rank != 0:
            raise SystemExit(2) from None
        raise


@contextlib.contextmanager
def stop_on_signals(trigger):
    """While in this context, SIGTERM (what SLURM sends before it kills a job) and SIGINT
    (Ctrl-C) ask ``trigger`` (a :class:`StopTrigger`) to stop the run after the current
    iteration; a second one does what it did before (SIGTERM kills, SIGINT raises
    ``KeyboardInterrupt``): an atomic write it interrupts leaves no partial snapshot, at
    most a ``*.tmp<pid>`` file that a resume removes.
    Outside the main thread (where Python cannot take signals) it does nothing."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def request_stop(signum, frame):
        if trigger.signal:
            signal.signal(signum, previous[signum])
            os.kill(os.getpid(), signum)
        else:
            trigger.signal = signum
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.signal(signum, request_stop)
        previous[signum] = signal.SIG_DFL if handler is None else handler
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def communicator_name(config_value, device_spec):
    """The ChainerMN communicator for ``communicator = config_value`` and ``--device``:
    ``'auto'`` is ``'naive'`` on the CPU and ``'pure_nccl'`` on CUDA."""
    if config_value != 'auto':
        return config_value
    return 'pure_nccl' if device_spec.startswith('@cupy') else 'naive'


def _communicator(multi_node, config):
    if not multi_node:
        return None
    from gqn.errors import GQNError
    try:
        import chainermn
        import mpi4py  # noqa: F401  (ChainerMN needs it; fail with a clear message)
    except ImportError as e:
        raise GQNError('--multi-node needs mpi4py and an MPI library (Debian: openmpi-bin '
                       'libopenmpi-dev; pip install mpi4py): %s' % e) from None
    name = communicator_name(config.communicator, config.device)
    if name == 'pure_nccl':
        try:
            from cupy.cuda import nccl
            ready = nccl.available
        except Exception:
            ready = False
        if not ready:
            raise GQNError('multi-GPU training needs NCCL (pip install nvidia-nccl-cu12; '
                           'scripts/cuda.sh installs it), or a CUDA-aware MPI with '
                           '--set communicator="flat"')
    if name != 'naive' and not config.device.startswith('@cupy'):
        raise GQNError('communicator %r moves GPU buffers: use --device @cupy, or '
                       'communicator "naive" on the CPU' % name)
    return chainermn.create_communicator(name)


class FreezeRepresentation:
    """An optimizer hook that zeroes the representation network's gradients before each
    update, so Adam leaves its weights exactly as they are (its moments stay 0, its steps
    0). Unlike ``disable_update`` it keeps the Adam state of every parameter, so the
    run's snapshots resume like any other."""

    name = 'FreezeRepresentation'
    call_for_each_param = False
    timing = 'pre'

    def __init__(self, representation):
        self.representation = representation

    def __call__(self, optimizer):
        for param in self.representation.params():
            if param.grad is not None:
                param.grad.fill(0)


def initial_model(path):
    """The model ``gqn train --init`` starts from (on the CPU).

    Args:
        path (str): a run directory, its ``model/`` folder or a snapshot
            (:func:`gqn.training.snapshot.load_trained`).

    Returns:
        ~gqn.model.gqn.GQN: the trained model.
    """
    from gqn.training.snapshot import load_trained
    return load_trained(path)[0]


def check_same_model(source, hp, where):
    """Refuse to start a model of hyperparameters ``hp`` from weights of ``source``'s,
    naming every field that differs, in one line."""
    from gqn.errors import GQNError
    from gqn.training.config import describe_changes
    a, b = source.to_dict(), hp.to_dict()
    changed = [('model.' + k, a[k], b[k]) for k in sorted(a) if a[k] != b[k]]
    if changed:
        raise GQNError('--init %s: its model has other hyperparameters (it -> this run: %s); '
                       'set them to its values (--set model.KEY=VALUE) or use its preset'
                       % (where, describe_changes(changed)))


def build_trainer(config, out, comm=None, quiet=False, initialize=True):
    """Assemble model, optimizer, data, updater, trainer and extensions.

    With ``config.init`` and ``initialize`` (a new run, not a resume, whose weights come
    from its snapshot) the model starts from those weights (:func:`initial_model`): its
    hyperparameters must be theirs (:func:`check_same_model`), ``position_scale`` is
    theirs unless the config gives one, and the optimizer and schedules start fresh.
    ``config.freeze_representation`` keeps the representation network's weights fixed.

    Returns:
        chainer.training.Trainer: ready to run (or to load a snapshot into).
    """
    import chainer
    import numpy as np
    from chainer import training
    from chainer.training import extensions

    from gqn.cuda import get_device
    from gqn.data import shards
    from gqn.data.context_query import ContextQuerySampler
    from gqn.data.shard_dataset import ShardDataset
    from gqn.errors import GQNError
    from gqn.kernels.adam import Adam
    from gqn.model.gqn import GQN
    from gqn.model.hyperparams import HyperParameters, position_scale_for
    from gqn.model.loss import GQNLoss
    from gqn.training.evaluator import GQNEvaluator
    from gqn.training.prediction_grid import PredictionGrid
    from gqn.training.progress import TrainingProgress
    from gqn.training.snapshot import Snapshot
    from gqn.training.updater import GQNUpdater

    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    lead = rank == 0
    batch_size = rank_batch_size(config.batch_size, size)
    device = get_device(config.device, comm.intra_rank if comm is not None else 0)

    # data: each rank reads its own share of the shards
    names = shards.list_shards(config.dataset, 'train')
    if len(names) < size:
        raise GQNError('%s: %d train shard%s cannot be split across %d rank%s' % (
            os.path.join(config.dataset, 'train', shards.IMAGES), len(names),
            's' * (len(names) != 1), size, 's' * (size != 1)))
    train_set = ShardDataset(config.dataset, 'train', names[rank::size], raw=True)
    test_set = None
    if 'test' in shards.list_splits(config.dataset):
        test_names = shards.list_shards(config.dataset, 'test')
        if len(test_names) >= size:
            test_set = ShardDataset(config.dataset, 'test', test_names[rank::size], raw=True)
    if lead:
        for note in train_set.assumptions:
            print('note:', note)

    # model
    # derived from the data unless given: the same on every rank (the first shard); a
    # model started from other weights keeps the position scale they were trained with
    source = initial_model(config.init) if config.init and initialize else None
    first_viewpoints = shards.open_shard(config.dataset, 'train', names[0])[1]
    model_dict = {'image_size': train_set.image_size,
                  'position_scale': (source.hp.position_scale if source is not None
                                     else position_scale_for(first_viewpoints)),
                  **config.model}
    hp = HyperParameters.from_dict(model_dict)
    if source is not None:
        check_same_model(source.hp, hp, config.init)
    train_set.check_compatible(hp)
    np.random.seed(config.seed)
    model = GQN(hp)
    if source is not None:
        model.copyparams(source)
    loss_fun = GQNLoss(model, config.objective)
    loss_fun.to_device(device)

    # optimizer
    optimizer = Adam(alpha=config.lr_start, beta1=0.9, beta2=0.999, eps=1e-8)
    if comm is not None:
        import chainermn
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(loss_fun)
    if config.freeze_representation:
        optimizer.add_hook(FreezeRepresentation(model.representation))
    if comm is not None:
        # Start every rank from rank 0's parameters now, so the first
        # update already all-reduces gradients (ChainerMN would otherwise
        # spend it on the broadcast).
        comm.bcast_data(loss_fun)
        optimizer.is_changed(loss_fun)

    # iterators and updater
    np.random.seed(config.seed + rank)
    converter = ContextQuerySampler(train_set.views, config.max_context or None,
                                    config.allow_overlap, seed=config.seed + 1000 * rank + 1,
                                    queries=config.queries,
                                    zero_context_rate=config.zero_context_rate)
    iterator = chainer.iterators.SerialIterator(train_set, batch_size)
    updater = GQNUpdater(iterator, optimizer, converter,
                         sigma=(config.sigma_start, config.sigma_end, config.sigma_steps),
                         lr=(config.lr_start, config.lr_end, config.lr_steps), device=device,
                         noise_key=(config.seed, rank),
                         # reading the loss synchronises a GPU: check at log intervals there
                         finite_check_interval=1 if device.xp is np else config.log_interval,
                         prefetch=config.prefetch == 'on' or (
                             config.prefetch == 'auto' and device.xp is not np))
    stop = StopTrigger(config, comm)
    trainer = training.Trainer(updater, stop, out=out)

    # extensions
    if test_set is not None:
        evaluator = GQNEvaluator(test_set, loss_fun, lambda: updater.sigma,
                                 scenes=max(1, config.eval_scenes // size),
                                 batch_size=batch_size, device=device, seed=config.seed)
        if comm is not None:
            evaluator = chainermn.create_multi_node_evaluator(evaluator, comm)
        trainer.extend(evaluator, trigger=(config.eval_interval, 'iteration'))
    if lead:
        log = (config.log_interval, 'iteration')
        trainer.extend(extensions.LogReport(trigger=log))
        plots = {'loss': ['main/loss', 'validation/main/loss'],
                 'nll': ['main/nll', 'validation/main/nll'],
                 'kl': ['main/kl', 'validation/main/kl'],
                 'mse': ['main/mse', 'validation/main/mse', 'validation/main/prediction_mse'],
                 'bpp': ['main/bpp', 'validation/main/bpp'],
                 'sigma': ['sigma'], 'lr': ['lr']}
        for name, keys in plots.items():
            trainer.extend(extensions.PlotReport(keys, 'iteration', trigger=log,
                                                 filename='%s.png' % name))
        if not quiet:
            trainer.extend(extensions.PrintReport(
                ['iteration', 'elapsed_time', 'main/loss', 'main/nll', 'main/kl', 'main/mse',
                 'main/bpp', 'validation/main/prediction_mse', 'sigma', 'lr']), trigger=log)
            trainer.extend(TrainingProgress(stop))
        if test_set is not None:
            trainer.extend(PredictionGrid(test_set, model, device, seed=config.seed),
                           trigger=(config.image_interval, 'iteration'))
        trainer.extend(Snapshot(config.keep_snapshots),
                       trigger=(config.snapshot_interval, 'iteration'))
    return trainer


def _restart_rank_streams(trainer, seed, rank):
    """New data order and random streams for a rank other than 0 on a multi-node resume
    (for every rank when the run resumes with another number of processes).

    Snapshots hold rank 0's state only. Every rank restores the parameters
    and Adam moments (identical on all ranks), the iteration and the
    schedules from it; a rank other than 0 starts a fresh pass over its own
    shards (shuffled by NumPy's global generator) with a sampler seeded by
    ``(seed, rank, iteration)``, so resuming is deterministic but not
    bit-identical to an uninterrupted multi-node run. (The latent noise is keyed
    by ``(seed, rank, iteration)`` anyway and continues exactly.)
    """
    import numpy as np
    entropy = np.random.SeedSequence([seed, rank, trainer.updater.iteration])
    converter_seed, global_seed = entropy.generate_state(2)
    trainer.updater.converter.rng = np.random.RandomState(converter_seed)
    np.random.seed(global_seed)
    trainer.updater.get_iterator('main').reset()


def check_run_folder(config, out, resume, report=print):
    """Check that ``out`` can take this run, before anything is written there.

    A new run refuses a folder that holds a run (a snapshot or a final model) and starts
    over one that stopped before its first snapshot (``report`` says so). A resume needs a
    snapshot; the hyperparameters derived from the data (``image_size``,
    ``position_scale``) come from the run's ``config.json`` unless ``config`` gives them;
    a change of the model or the objective (:func:`gqn.training.config.is_fixed_on_resume`)
    is refused, naming each key with its old and new value, and any other change
    (``iterations``, ``device``, intervals, ...) is reported.

    Returns:
        TrainConfig: ``config``, with the run's derived hyperparameters on a resume.

    Raises:
        GQNError: when the folder cannot take the run.
    """
    from gqn.errors import GQNError
    from gqn.model.weights import WEIGHTS
    from gqn.training.config import TrainConfig, describe_changes, resume_changes
    from gqn.training.snapshot import snapshots
    path = os.path.join(out, 'config.json')
    saved = TrainConfig.from_json(path) if os.path.exists(path) else None
    if not resume:
        if snapshots(out) or os.path.exists(os.path.join(out, 'model', WEIGHTS)):
            raise GQNError('%s already holds a run: pass --resume to continue it, '
                           'or choose another --out' % out)
        if saved is not None:
            report('note: %s holds a run that stopped before its first snapshot: '
                   'starting it over' % out)
        return config
    if not snapshots(out):
        raise GQNError('nothing to resume in %s: the run stopped before its first snapshot; '
                       'start it over with the same command without --resume' % out)
    if saved is None:
        return config
    config, changes, fixed = resume_changes(saved, config)
    if fixed:
        raise GQNError('cannot resume %s with another model or objective (%s): its snapshots '
                       'were trained with the run\'s; start a new run with another --out'
                       % (out, describe_changes(fixed)))
    if changes:
        report('note: resuming %s with %s' % (out, describe_changes(changes)))
    return config


def train(config, out, resume=False, multi_node=False, quiet=False):
    """Train with ``config`` into run directory ``out``; returns the trainer.

    Rank 0 holds ``out``'s lock (:data:`LOCK`) for the whole run, so a second run into the
    same folder is refused, naming the process that holds it. Nothing but the lock file is
    written in ``out`` until the run is accepted (:func:`check_run_folder`) and, on a
    resume, its snapshot has been loaded.

    SIGTERM or SIGINT stop the run after the current iteration (on every rank at the same
    one): a snapshot is written, not the final model, a line on stderr says how to
    continue, and the returned trainer's ``stop_trigger.stopped_by`` names the signal.

    Under ``multi_node`` an error on any rank aborts all of them (MPI_Abort),
    after printing it, instead of leaving the others waiting forever.
    """
    from gqn import files
    from gqn.ops.random_state import latent_noise
    os.environ.setdefault('MPLBACKEND', 'Agg')
    comm = _communicator(multi_node, config)
    _check_batch(config, comm)
    lead = comm is None or comm.rank == 0
    try:
        with contextlib.ExitStack() as held:
            if lead:
                files.writable_folder(out)
                held.enter_context(files.folder_lock(out, LOCK, 'trained'))
            config = check_run_folder(config, out, resume,
                                      report=print if lead else (lambda line: None))
            return _train(config, out, comm, resume, quiet)
    except Exception as e:
        if comm is None or comm.size == 1:
            raise
        import sys
        import traceback

        from gqn.errors import GQNError
        if isinstance(e, GQNError):
            print('gqn train (rank %d): error: %s' % (comm.rank, e), file=sys.stderr)
        else:
            traceback.print_exc()
        sys.stderr.flush()
        comm.mpi_comm.Abort(2)
    finally:
        latent_noise.set_key()  # unkeyed again for whatever the process does next


def _train(config, out, comm, resume, quiet):
    import signal
    import sys

    from gqn import files
    from gqn.errors import GQNError
    from gqn.kernels import blas
    from gqn.model.hyperparams import HyperParameters
    from gqn.model.weights import save_model
    from gqn.training.config import describe_changes
    from gqn.training.snapshot import (
        RANK_STATE,
        SNAPSHOT_DIR,
        Snapshot,
        iterator_fits,
        latest_good_snapshot,
        latest_snapshot,
        load_snapshot,
    )

    lead = comm is None or comm.rank == 0
    report = print if lead else (lambda line: None)
    trainer = build_trainer(config, out, comm, quiet=quiet, initialize=not resume)
    model = trainer.updater.get_optimizer('main').target.model
    # the derived hyperparameters go into config.json, so a resume rebuilds the same model
    config = config.replace(model={**config.model, 'image_size': model.hp.image_size,
                                   'position_scale': model.hp.position_scale,
                                   'logvar_bound': model.hp.logvar_bound},
                            processes=1 if comm is None else comm.size)
    if resume:
        # everything that can refuse the resume comes before the first write
        stored = os.path.join(out, SNAPSHOT_DIR, 'hyperparams.json')
        if os.path.exists(stored):
            old = HyperParameters.from_json(stored).to_dict()
            changed = [('model.' + k, old[k], v) for k, v in model.hp.to_dict().items()
                       if old[k] != v]
            if changed:
                raise GQNError('cannot resume %s: its snapshots hold another model (%s, from '
                               '%s)' % (out, describe_changes(changed), stored))
        path = latest_good_snapshot(out, report)
        if path is None:
            raise GQNError('every snapshot in %s is damaged: nothing to resume from'
                           % os.path.join(out, SNAPSHOT_DIR))
        same_processes = iterator_fits(trainer, path)
        if lead and same_processes:
            load_snapshot(trainer, path)
        else:
            # the other ranks, or another number of processes than the run had: the data
            # order and sampler streams restart (deterministically), the rest continues
            load_snapshot(trainer, path, skip=RANK_STATE)
            _restart_rank_streams(trainer, config.seed, 0 if comm is None else comm.rank)
            if not same_processes:
                report('note: %s was written by a run with another number of processes: '
                       'the data order restarts, parameters, Adam moments and schedules '
                       'continue' % path)
    if lead:
        for name in files.remove_partial_files(os.path.join(out, SNAPSHOT_DIR)):
            print('removed %s (a snapshot being written when the run stopped)' % name)
        os.makedirs(os.path.join(out, SNAPSHOT_DIR), exist_ok=True)
        config.to_json(os.path.join(out, 'config.json'))
        model.hp.to_json(os.path.join(out, 'hyperparams.json'))
        model.hp.to_json(os.path.join(out, SNAPSHOT_DIR, 'hyperparams.json'))
    if resume and not quiet and lead:
        print('resuming from %s (iteration %d)' % (path, trainer.updater.iteration))
    if not quiet and lead:
        print('NumPy BLAS: %s' % blas.describe())
    with stop_on_signals(trainer.stop_trigger):
        trainer.run(show_loop_exception_msg=False)
        stopped_by = trainer.stop_trigger.stopped_by
        if lead:
            snapshot = os.path.join(
                out, SNAPSHOT_DIR, 'snapshot_iter_%d.npz' % trainer.updater.iteration)
            if latest_snapshot(out) != snapshot:
                Snapshot(config.keep_snapshots)(trainer)
    if stopped_by and lead:
        print('gqn train: stopped by %s at iteration %d; snapshot %s; continue with: '
              'gqn train --out %s --resume' % (signal.Signals(stopped_by).name,
                                               trainer.updater.iteration, snapshot, out),
              file=sys.stderr)
    if comm is not None:
        # no rank ends before the snapshot is written: mpiexec kills the others when a rank
        # exits with a non-zero status (128 + signal)
        comm.mpi_comm.Barrier()
    if stopped_by:
        return trainer
    if lead:
        save_model(os.path.join(out, 'model'), model)
        if not quiet:
            print('trained %d iterations; model: %s'
                  % (trainer.updater.iteration, os.path.join(out, 'model')))
    return trainer
