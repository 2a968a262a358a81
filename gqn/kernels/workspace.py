"""Per-thread scratch buffers reused across calls by the CPU convolutions.

A training step calls the same convolutions with the same shapes over and
over; allocating their large temporaries afresh each time costs page faults
(the kernel zeroes every new page). A buffer here grows to the largest
request seen under its name and is never freed.
"""
import threading

import numpy

_workspace = threading.local()


def scratch(name, shape, dtype):
    """A reusable per-thread buffer (uninitialised) of ``shape`` and ``dtype``.

    The same ``(name, dtype)`` always returns the same memory: a caller must
    be done with one before asking for it again.
    """
    if not hasattr(_workspace, 'buffers'):
        _workspace.buffers = {}
    buffers = _workspace.buffers
    key = (name, numpy.dtype(dtype))
    size = int(numpy.prod(shape))
    flat = buffers.get(key)
    if flat is None or flat.size < size:
        flat = buffers[key] = numpy.empty(size, dtype)
    return flat[:size].reshape(shape)
