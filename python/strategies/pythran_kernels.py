"""Pythran (the book's chapter 7): the plain loops, compiled ahead of time to C++ at first
use. Built without -march=native and without -ffast-math (the agreement check measures the
class)."""

#pythran export julia(float64[:], float64[:], float64, float64, int)
#pythran export evolve(float64[:,:], int, float64)
import numpy as np


def julia(xs, ys, cr, ci, max_iter):
    counts = np.zeros((ys.size, xs.size), dtype=np.uint32)
    for j in range(ys.size):
        for i in range(xs.size):
            zr = xs[i]
            zi = ys[j]
            n = 0
            while n < max_iter and zr * zr + zi * zi < 4.0:
                t = (zr * zr - zi * zi) + cr
                zi = (2.0 * zr) * zi + ci
                zr = t
                n += 1
            counts[j, i] = n
    return counts


def evolve(grid, steps, k):
    rows, cols = grid.shape
    u = grid.copy()
    nxt = np.empty_like(u)
    for _ in range(steps):
        for i in range(rows):
            up = (i - 1 + rows) % rows
            down = (i + 1) % rows
            for j in range(cols):
                v = u[up, j] + u[down, j]
                h = u[i, (j - 1 + cols) % cols] + u[i, (j + 1) % cols]
                lap = (v + h) - 4.0 * u[i, j]
                nxt[i, j] = u[i, j] + k * lap
        u, nxt = nxt, u
    return u
