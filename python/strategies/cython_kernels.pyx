# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython, typed (the book's Example 7-7) and with OpenMP `prange` (Example 7-12), both
kernels in SPEC's canonical order. Built without -march=native, so the C compiler has no
fused multiply-add to contract into (the agreement check measures it)."""

from cython.parallel cimport prange
import numpy as np


cdef inline unsigned int pixel(double x, double y, double cr, double ci,
                               unsigned int max_iter) noexcept nogil:
    cdef double zr = x, zi = y, t
    cdef unsigned int n = 0
    while n < max_iter and zr * zr + zi * zi < 4.0:
        t = (zr * zr - zi * zi) + cr
        zi = (2.0 * zr) * zi + ci
        zr = t
        n += 1
    return n


def julia(double[::1] xs, double[::1] ys, double cr, double ci, unsigned int max_iter,
          bint parallel=False):
    counts = np.empty((ys.shape[0], xs.shape[0]), dtype=np.uint32)
    cdef unsigned int[:, ::1] c = counts
    cdef Py_ssize_t i, j, w = xs.shape[0], h = ys.shape[0]
    if parallel:
        for j in prange(h, nogil=True, schedule="guided"):
            for i in range(w):
                c[j, i] = pixel(xs[i], ys[j], cr, ci, max_iter)
    else:
        for j in range(h):
            for i in range(w):
                c[j, i] = pixel(xs[i], ys[j], cr, ci, max_iter)
    return counts


cdef inline void row(double[:, ::1] u, double[:, ::1] out, Py_ssize_t i,
                     double k) noexcept nogil:
    cdef Py_ssize_t rows = u.shape[0], cols = u.shape[1], j
    cdef Py_ssize_t up = (i - 1 + rows) % rows, down = (i + 1) % rows
    cdef double v, hsum, lap
    for j in range(cols):
        v = u[up, j] + u[down, j]
        hsum = u[i, (j - 1 + cols) % cols] + u[i, (j + 1) % cols]
        lap = (v + hsum) - 4.0 * u[i, j]
        out[i, j] = u[i, j] + k * lap


def evolve(double[:, ::1] grid, unsigned int steps, double k, bint parallel=False):
    a = np.array(grid, copy=True)
    b = np.empty_like(a)
    cdef double[:, ::1] u = a, nxt = b, tmp
    cdef Py_ssize_t i, rows = a.shape[0]
    cdef unsigned int s
    for s in range(steps):
        if parallel:
            for i in prange(rows, nogil=True, schedule="static"):
                row(u, nxt, i, k)
        else:
            for i in range(rows):
                row(u, nxt, i, k)
        tmp = u
        u = nxt
        nxt = tmp
    return np.asarray(u)
