"""Training configuration: paper defaults, TOML presets, command-line overrides."""
import dataclasses
import os

from gqn.errors import GQNError
from gqn.files import read_json, read_toml
from gqn.model.hyperparams import check_objective
from gqn.resources import builtin_folder, parse_override, toml_names

#: ``communicator`` values: 'auto' picks 'naive' (CPU) or 'pure_nccl' (CUDA).
COMMUNICATORS = ('auto', 'naive', 'flat', 'pure_nccl')
#: ``prefetch`` values: 'auto' is 'on' on CUDA, 'off' on the CPU.
PREFETCH = ('auto', 'on', 'off')


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the data; saved as ``<run>/config.json``.

    Defaults are the paper's (Eslami et al. 2018): Adam with learning rate
    5e-4 → 5e-5 over 1.6M steps and pixel sigma 2.0 → 0.7 over 200k steps,
    both linear then held; batch 36. ``model`` holds
    :class:`gqn.HyperParameters` fields (missing ones take the paper's values).
    """

    dataset: str = ''
    model: dict = dataclasses.field(default_factory=dict)
    # scenes per step over all processes: under MPI each rank trains on batch_size /
    # processes of them (gqn.training.trainer.rank_batch_size)
    batch_size: int = 36
    iterations: int = 2_000_000
    minutes: float = 0.0          # wall-clock limit per invocation; 0 = none
    max_context: int = 0          # largest context size K; 0 = views - 1
    allow_overlap: bool = False   # query may be one of the context views
    queries: int = 1              # query views per scene, sharing one representation r
    # probability that a batch is drawn with K = 0 context views (r = 0: the model learns
    # to sample a scene with no observation); 0 = never, the paper's K in 1..max_context
    zero_context_rate: float = 0.0
    # 'elbo' (the paper's) or 'prior': a deterministic regression, the NLL of the query
    # view under the prediction made with z from the prior; the inference network never
    # runs (gqn.model.loss.GQNLoss)
    objective: str = 'elbo'
    lr_start: float = 5e-4
    lr_end: float = 5e-5
    lr_steps: int = 1_600_000
    sigma_start: float = 2.0
    sigma_end: float = 0.7
    sigma_steps: int = 200_000
    seed: int = 0
    device: str = '@numpy'
    log_interval: int = 100
    eval_interval: int = 5000
    eval_scenes: int = 144
    image_interval: int = 5000
    snapshot_interval: int = 1000
    keep_snapshots: int = 2
    # ChainerMN communicator for --multi-node: 'auto' = 'naive' on the CPU, 'pure_nccl'
    # on CUDA; 'flat' passes GPU buffers to MPI (needs a CUDA-aware MPI)
    communicator: str = 'auto'
    # read, send and convert the next batch in a background thread while a step
    # computes: 'auto' = on CUDA only, 'on', 'off' (gqn.training.updater.GQNUpdater)
    prefetch: str = 'auto'
    # the number of processes (MPI ranks) of the run's latest invocation: recorded by
    # gqn train, not a setting (a resume may use another number)
    processes: int = 1
    # a new run starts from these weights (gqn train --init): a run directory, its model/
    # folder or a snapshot; '' = random. The optimizer and the schedules start fresh.
    init: str = ''
    # keep the representation network's weights as they are (fine-tuning with --init)
    freeze_representation: bool = False

    def __post_init__(self):
        for name in ('batch_size', 'iterations', 'log_interval', 'eval_interval',
                     'image_interval', 'snapshot_interval', 'keep_snapshots', 'eval_scenes',
                     'processes'):
            if getattr(self, name) <= 0:
                raise GQNError('%s must be positive, got %r' % (name, getattr(self, name)))
        if self.queries < 1:
            raise GQNError('queries must be at least 1, got %r' % self.queries)
        if self.max_context < 0 or self.minutes < 0:
            raise GQNError('max_context and minutes must be >= 0')
        if not 0 <= self.zero_context_rate <= 1:
            raise GQNError('zero_context_rate must be in 0..1, got %r' % self.zero_context_rate)
        if self.sigma_start <= 0 or self.sigma_end <= 0:
            raise GQNError('sigma must stay positive')
        check_objective(self.objective)
        if self.prefetch not in PREFETCH:
            raise GQNError('prefetch must be one of %s, got %r'
                           % (', '.join(PREFETCH), self.prefetch))
        if self.communicator not in COMMUNICATORS:
            raise GQNError('communicator must be one of %s, got %r'
                           % (', '.join(COMMUNICATORS), self.communicator))

    @classmethod
    def fields(cls):
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, d, where='config'):
        unknown = sorted(set(d) - set(cls.fields()))
        if unknown:
            raise GQNError('%s: unknown key(s) %s (known: %s)' % (
                where, ', '.join(unknown), ', '.join(sorted(cls.fields()))))
        try:
            return cls(**d)
        except TypeError as e:
            raise GQNError('%s: %s' % (where, e)) from None

    @classmethod
    def from_toml(cls, path):
        return cls.from_dict(read_toml(path, 'preset'), where=path)

    def replace(self, **changes):
        return self.from_dict({**dataclasses.asdict(self), **changes})

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path):
        from gqn.files import atomic_write_json
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path):
        """A saved ``config.json``. One whose ``model`` lacks ``logvar_bound`` was written
        before the bound existed: it gets 0 (none), so the run resumes as it trained
        (as :meth:`gqn.model.hyperparams.HyperParameters.from_json` does)."""
        d = read_json(path, 'config')
        if isinstance(d, dict) and isinstance(d.get('model'), dict):
            d['model'] = {'logvar_bound': 0, **d['model']}
        return cls.from_dict(d, where=path)


def apply_overrides(config, overrides):
    """Apply ``key=value`` strings; ``model.<field>=value`` sets a hyperparameter."""
    d = config.to_dict()
    for text in overrides:
        keys, value = parse_override(text)
        key = '.'.join(keys)
        if key.startswith('model.'):
            d['model'] = {**d['model'], key[len('model.'):]: value}
        else:
            d[key] = value
    return TrainConfig.from_dict(d, where='--set')


#: Where bare preset names are looked up after ``./train``: the checkout's ``train/``
#: folder, or its copy ``gqn/presets/`` in an installed wheel.
PRESET_DIR = builtin_folder('gqn', 'train', 'presets')


def find_preset(name):
    """A preset path, or a bare name looked up in ``./train`` and in :data:`PRESET_DIR`."""
    if os.path.isfile(name):
        return name
    for folder in ('train', PRESET_DIR):
        for path in (os.path.join(folder, name), os.path.join(folder, name + '.toml')):
            if os.path.isfile(path):
                return path
    raise GQNError('no preset %r (looked in ./train and %s; built-in presets: %s)'
                   % (name, PRESET_DIR, ', '.join(toml_names(PRESET_DIR)) or 'none'))


#: Hyperparameters derived from the data when a config does not give them; on a resume they
#: come from the run's config.json.
DERIVED_MODEL_KEYS = ('image_size', 'position_scale')


def is_fixed_on_resume(key):
    """Whether the key ``key`` of :func:`config_changes` must keep its value when a run
    resumes: the model's hyperparameters (shapes, and meanings such as ``viewpoint_frame``
    and ``position_scale``) and the ``objective`` the parameters were trained for."""
    return key.startswith('model.') or key == 'objective'


def config_changes(old, new):
    """The keys whose values differ between two configs, ``model.<field>`` for a
    hyperparameter (missing ones take their defaults).

    Returns:
        list: ``(key, old value, new value)``, sorted by key.
    """
    from gqn.model.hyperparams import HyperParameters

    def flat(config):
        d = config.to_dict()
        model = HyperParameters.from_dict(d.pop('model')).to_dict()
        return {**d, **{'model.' + k: v for k, v in model.items()}}
    a, b = flat(old), flat(new)
    return [(k, a[k], b[k]) for k in sorted(a) if a[k] != b[k]]


def resume_changes(run, new):
    """How ``new`` differs from ``run`` (the run's saved config) where it matters on a resume.
    The model's derived keys (:data:`DERIVED_MODEL_KEYS`) that ``new`` does not give are the
    run's.

    Returns:
        tuple: ``(new with the run's derived keys, every change, the changes that must not
        be made on a resume)``, changes as in :func:`config_changes`.
    """
    new = new.replace(model={**{k: run.model[k] for k in DERIVED_MODEL_KEYS if k in run.model},
                             **new.model})
    changes = config_changes(run, new)
    return new, changes, [change for change in changes if is_fixed_on_resume(change[0])]


def describe_changes(changes):
    """``key old -> new, ...`` for :func:`config_changes`."""
    return ', '.join('%s %r -> %r' % change for change in changes)
