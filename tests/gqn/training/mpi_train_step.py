"""Run under ``mpiexec -n 2``: the multi-node updates of gqn training.

Usage: mpi_train_step.py DATASET OUT

1. ``gqn.training.trainer.build_trainer`` with a ChainerMN communicator runs a few
   iterations (Adam, each rank its own shards and seeds, evaluation averaged
   over ranks at iteration 2) at the global batch 4; each rank saves its parameters
   to OUT/trainer_rank<k>.npz and its batch (scenes per step) to OUT/batch_rank<k>;
   rank 0 alone writes OUT/run (log, snapshots).
2. One multi-node SGD step of a fresh model on a fixed batch, each rank its
   half, latent noise keyed by 100 + rank; rank 0 saves the parameters after
   the step to OUT/step.npz for the single-process comparison (plain SGD, so
   the comparison is sensitive to the gradient's scale).
3. ``gqn.training.trainer.train`` with ``resume=True`` continues a copy of the run
   (OUT/resumed, from its iteration-2 snapshot) to iteration 4 on both
   ranks; each rank saves its parameters to OUT/resumed_rank<k>.npz.
"""
import shutil
import sys

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

# isort: split
import chainer
import chainermn
import numpy as np

from gqn.model.gqn import GQN
from gqn.model.hyperparams import HyperParameters
from gqn.model.loss import GQNLoss
from gqn.ops.random_state import fixed_seed
from gqn.testing.datasets import TINY_MODEL, fixed_batch
from gqn.training.config import TrainConfig
from gqn.training.trainer import build_trainer, train


def main(dataset, out):
    comm = chainermn.create_communicator('naive')
    config = TrainConfig(dataset=dataset, model=TINY_MODEL, batch_size=4, iterations=3,
                         eval_scenes=8, eval_interval=2, log_interval=1, image_interval=2,
                         snapshot_interval=2, seed=comm.rank)  # rank 0's parameters must win
    trainer = build_trainer(config, out + '/run', comm, quiet=True)
    with open('%s/batch_rank%d' % (out, comm.rank), 'w') as f:
        f.write(str(trainer.updater.get_iterator('main').batch_size))
    trainer.run(show_loop_exception_msg=False)
    loss_fun = trainer.updater.get_optimizer('main').target
    np.savez('%s/trainer_rank%d.npz' % (out, comm.rank),
             **{k: p.array for k, p in loss_fun.namedparams()})

    batch = fixed_batch(dataset)
    half = {k: v[4 * comm.rank:4 * comm.rank + 4] for k, v in batch.items()}
    np.random.seed(0)
    loss_fun = GQNLoss(GQN(HyperParameters(image_size=16, **TINY_MODEL)))
    optimizer = chainermn.create_multi_node_optimizer(chainer.optimizers.SGD(lr=0.1), comm)
    optimizer.setup(loss_fun)
    optimizer.is_changed(loss_fun)  # parameters are identical (same seed): no broadcast step
    with fixed_seed(100 + comm.rank):  # latent noise keyed per rank
        loss = loss_fun(sigma=1.0, **half)
    loss_fun.cleargrads()
    loss.backward()
    optimizer.update()
    if comm.rank == 0:
        np.savez(out + '/step.npz', **{k: p.array for k, p in loss_fun.namedparams()})

    if comm.rank == 0:
        shutil.copytree(out + '/run', out + '/resumed')
    comm.mpi_comm.Barrier()
    trainer = train(config.replace(iterations=4), out + '/resumed', resume=True,
                    multi_node=True, quiet=True)
    loss_fun = trainer.updater.get_optimizer('main').target
    np.savez('%s/resumed_rank%d.npz' % (out, comm.rank),
             **{k: p.array for k, p in loss_fun.namedparams()})


if __name__ == '__main__':
    main(*sys.argv[1:])
