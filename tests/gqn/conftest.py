import pytest

from gqn.kernels import parallel
from gqn.testing.datasets import write_synthetic_dataset


@pytest.fixture
def synthetic_dataset(tmp_path):
    return write_synthetic_dataset(str(tmp_path / 'data'))


@pytest.fixture(params=[1, 3], ids=['1-thread', '3-threads'])
def threads(request):
    """Run the test with :func:`gqn.kernels.parallel.parallel_for` on 1 and on 3 threads
    (an uneven split), whatever the machine's BLAS uses."""
    parallel.set_num_threads(request.param)
    yield request.param
    parallel.set_num_threads(None)
