"""numexpr (the book's Example 6-19): the neighbour sums in place as in `numpy-inplace`, then
the rest of the update as one expression evaluated in cache-sized blocks, without
temporaries. Julia: the vectorised iteration with each arithmetic line as one expression.

numexpr keeps the expression's parentheses and rounds each operation once, so the canonical
order is kept (the agreement check says whether it is).
"""

import numexpr as ne
import numpy as np

from numpy_strategies import neighbour_sum


def evolve(grid, steps, k):
    ne.set_num_threads(1)
    u = grid.copy()
    nxt = np.empty_like(u)
    v = np.empty_like(u)
    h = np.empty_like(u)
    for _ in range(steps):
        neighbour_sum(u, 0, v)
        neighbour_sum(u, 1, h)
        ne.evaluate("u + k * ((v + h) - 4.0 * u)", out=nxt)
        u, nxt = nxt, u
    return u


def julia(xs, ys, cr, ci, max_iter):
    ne.set_num_threads(1)
    zr = np.broadcast_to(xs[None, :], (ys.size, xs.size)).ravel()
    zi = np.broadcast_to(ys[:, None], (ys.size, xs.size)).ravel()
    counts = np.zeros(zr.size, dtype=np.uint32)
    idx = np.arange(zr.size)
    for _ in range(max_iter):
        inside = ne.evaluate("zr * zr + zi * zi < 4.0")
        if not inside.all():
            idx, zr, zi = idx[inside], zr[inside], zi[inside]
            if idx.size == 0:
                break
        counts[idx] += 1
        t = ne.evaluate("(zr * zr - zi * zi) + cr")
        zi = ne.evaluate("(2.0 * zr) * zi + ci")
        zr = t
    return counts.reshape(ys.size, xs.size)
