"""The progress bar of ``gqn train``: its length and ETA follow whichever limit comes first."""
import datetime
import math

from chainer.training import extension
from chainer.training.extensions import util


class TrainingProgress(extension.Extension):
    """Chainer's progress bar, for a run limited by iterations, by minutes, or both.

    Chainer's own bar (7.8.1) reads the training length once, from the stop trigger, in
    iterations; a run stopped by its time limit then shows the iteration limit as its
    length and an ETA to reach it. This bar compares the time the iterations left take
    at the current rate with the time left, and shows the limit that comes first: its
    fraction done, the time until it, and, for the time limit, the iteration it will
    end near at this rate. Before the rate is known (the first draw) it shows both.

    Args:
        stop (gqn.training.trainer.StopTrigger): the run's stop trigger (``iterations``,
            ``seconds``, :meth:`~gqn.training.trainer.StopTrigger.elapsed`).
        update_interval (int): draw the bar every this many iterations.
        out: the stream (default: ``sys.stdout`` when the bar is made).
    """

    def __init__(self, stop, update_interval=1, out=None):
        self._update_interval = update_interval
        self._bar = _Bar(stop, out)

    def __call__(self, trainer):
        self._bar.trainer = trainer
        if trainer.updater.iteration % self._update_interval == 0:
            self._bar.update()

    def finalize(self):
        self._bar.close()


class _Bar(util.ProgressBar):

    trainer = None

    def __init__(self, stop, out):
        super().__init__(out=out)
        self.stop = stop

    def get_lines(self):
        stop, updater = self.stop, self.trainer.updater
        iteration, epoch = updater.iteration, updater.epoch_detail
        speed = self.update_speed(iteration, epoch)[0]
        known = 0 < speed < math.inf
        left = max(stop.iterations - iteration, 0)
        by_iterations = left / speed if known else (0.0 if not left else math.inf)
        elapsed = stop.elapsed()
        by_time = max(stop.seconds - elapsed, 0.0) if stop.seconds else math.inf
        if not known and stop.seconds and left:  # no rate yet: both limits, the time's ETA
            rate = max(iteration / stop.iterations, min(elapsed / stop.seconds, 1.0))
            limit = '%d iterations or %g minutes' % (stop.iterations, stop.seconds / 60)
            eta = by_time
        elif by_time < by_iterations:
            rate = min(elapsed / stop.seconds, 1.0)
            limit = '%g minutes (about %d iterations at this rate)' % (
                stop.seconds / 60, iteration + speed * by_time)
            eta = by_time
        else:
            rate = min(iteration / stop.iterations, 1.0)
            limit = '%d iterations' % stop.iterations
            eta = by_iterations
        lines = []
        for name, fraction in (('total', rate), ('this epoch', epoch - int(epoch))):
            marks = '#' * int(fraction * self._bar_length)
            lines.append('%10s [%s%s] %6.2f%%\n' % (
                name, marks, '.' * (self._bar_length - len(marks)), 100 * fraction))
        lines.append('%10d iter, %d epoch / %s\n' % (iteration, updater.epoch, limit))
        lines.append('%10s iters/sec. Estimated time to finish: %s.\n' % (
            '%.5g' % speed if known else '?',
            datetime.timedelta(seconds=eta) if eta < math.inf else 'unknown'))
        return lines
