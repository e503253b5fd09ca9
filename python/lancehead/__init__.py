"""Lancehead from Python: the Julia set and 2D diffusion of *High Performance Python*, computed
by any backend of the build (scalar, SIMD, rayon, C, Fortran, GPU...), numpy arrays in and out.

    >>> import lancehead
    >>> lancehead.julia().sum()                       # the book's check
    33219980
    >>> grid = lancehead.evolve(numpy.zeros((256, 256)), 500, backend="simd")
"""

from ._lancehead import DEFAULT_BACKEND, backends, evolve, julia

__all__ = ["DEFAULT_BACKEND", "backends", "evolve", "julia"]
