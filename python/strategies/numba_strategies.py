"""Numba (the book's chapter 7): the plain loops of `pure` compiled by `@njit`, and the rows
in parallel with `prange` (the OpenMP row's analogue). No `fastmath`: LLVM may then neither
reassociate nor fuse, so the canonical order holds (the agreement check measures it).
"""

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _pixel(x, y, cr, ci, max_iter):
    zr, zi, n = x, y, 0
    while n < max_iter and zr * zr + zi * zi < 4.0:
        t = (zr * zr - zi * zi) + cr
        zi = (2.0 * zr) * zi + ci
        zr = t
        n += 1
    return n


@njit(cache=True)
def julia(xs, ys, cr, ci, max_iter):
    counts = np.empty((ys.size, xs.size), dtype=np.uint32)
    for j in range(ys.size):
        for i in range(xs.size):
            counts[j, i] = _pixel(xs[i], ys[j], cr, ci, max_iter)
    return counts


@njit(cache=True, parallel=True)
def julia_prange(xs, ys, cr, ci, max_iter):
    counts = np.empty((ys.size, xs.size), dtype=np.uint32)
    for j in prange(ys.size):
        for i in range(xs.size):
            counts[j, i] = _pixel(xs[i], ys[j], cr, ci, max_iter)
    return counts


@njit(cache=True)
def _row(u, out, i, k):
    rows, cols = u.shape
    up, down = (i - 1) % rows, (i + 1) % rows
    for j in range(cols):
        v = u[up, j] + u[down, j]
        h = u[i, (j - 1) % cols] + u[i, (j + 1) % cols]
        lap = (v + h) - 4.0 * u[i, j]
        out[i, j] = u[i, j] + k * lap


@njit(cache=True)
def evolve(grid, steps, k):
    u = grid.copy()
    nxt = np.empty_like(u)
    for _ in range(steps):
        for i in range(u.shape[0]):
            _row(u, nxt, i, k)
        u, nxt = nxt, u
    return u


@njit(cache=True, parallel=True)
def evolve_prange(grid, steps, k):
    u = grid.copy()
    nxt = np.empty_like(u)
    for _ in range(steps):
        for i in prange(u.shape[0]):
            _row(u, nxt, i, k)
        u, nxt = nxt, u
    return u
