"""The registry of the project's CuPy ``ElementwiseKernel``\\ s.

Each kernel is made by a factory decorated with :func:`elementwise_kernel`,
which caches it (one compiled kernel per process) and records, for the CPU-side
NVRTC compile check (:mod:`gqn.testing.nvrtc`), which of its inputs the
callers pass as scalars rather than arrays (that changes the generated code).
"""
import functools

#: ``(qualified name, cached factory, names of the scalar inputs)`` of every kernel.
REGISTRY = []


def elementwise_kernel(*scalars):
    """Decorator of a factory returning a ``cupy.ElementwiseKernel``.

    Args:
        scalars (str): the inputs that are passed as scalars (NumPy scalars or
            Python numbers), not arrays.
    """
    def register(factory):
        cached = functools.lru_cache(maxsize=None)(factory)
        REGISTRY.append(('%s.%s' % (factory.__module__, factory.__name__), cached,
                         tuple(scalars)))
        return cached
    return register
