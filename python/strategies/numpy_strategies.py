"""numpy: the book's whole-array strategies.

- `numpy` (Example 6-9): `np.roll` builds shifted copies, every step allocates new arrays.
- `numpy-inplace` (Example 6-17, `roll_add`): preallocated buffers, every operation writes
  with `out=`, no allocation per step.
- Julia, vectorised (the book's chapter 6 idea applied to chapter 2): every pixel still
  iterating is updated at once; escaped pixels are dropped from the working set.

All in SPEC's canonical order, `v = u[i-1] + u[i+1]`, `h = u[j-1] + u[j+1]`,
`lap = (v + h) - 4*u`, `u + k*lap`: numpy's elementwise ufuncs round each operation once, so
the grids are bitwise those of `scalar`. (The book's own `laplacian` sums the four
neighbours in another order, `roll(+1,0) + roll(-1,0) + roll(+1,1) + roll(-1,1) - 4u`,
which differs in the last bit.)
"""

import numpy as np


def julia(xs, ys, cr, ci, max_iter):
    zr = np.broadcast_to(xs[None, :], (ys.size, xs.size)).copy()
    zi = np.broadcast_to(ys[:, None], (ys.size, xs.size)).copy()
    counts = np.zeros(zr.shape, dtype=np.uint32)
    idx = np.arange(zr.size)
    zr, zi = zr.ravel().copy(), zi.ravel().copy()
    flat = counts.ravel()
    for _ in range(max_iter):
        inside = zr * zr + zi * zi < 4.0
        if not inside.all():
            idx, zr, zi = idx[inside], zr[inside], zi[inside]
            if idx.size == 0:
                break
        flat[idx] += 1
        t = (zr * zr - zi * zi) + cr
        zi = (2.0 * zr) * zi + ci
        zr = t
    return counts


def laplacian_roll(u):
    v = np.roll(u, 1, axis=0) + np.roll(u, -1, axis=0)
    h = np.roll(u, 1, axis=1) + np.roll(u, -1, axis=1)
    return (v + h) - 4.0 * u


def evolve(grid, steps, k):
    u = grid
    for _ in range(steps):
        u = u + k * laplacian_roll(u)
    return u


def neighbour_sum(u, axis, out):
    """`out = u[i-1] + u[i+1]` along `axis`, periodic, written into `out` without allocating
    (the book's `roll_add`, both neighbours at once)."""
    n = u.shape[axis]
    if n < 3:
        # 1 or 2 cells: both neighbours are the same cell (or each other); tiny, so roll.
        np.add(np.roll(u, 1, axis=axis), np.roll(u, -1, axis=axis), out=out)
        return out
    if axis == 0:
        np.add(u[:-2], u[2:], out=out[1:-1])
        np.add(u[-1], u[1], out=out[0])
        np.add(u[-2], u[0], out=out[-1])
    else:
        np.add(u[:, :-2], u[:, 2:], out=out[:, 1:-1])
        np.add(u[:, -1], u[:, 1], out=out[:, 0])
        np.add(u[:, -2], u[:, 0], out=out[:, -1])
    return out


def evolve_inplace(grid, steps, k):
    u = grid.copy()
    nxt = np.empty_like(u)
    v = np.empty_like(u)
    h = np.empty_like(u)
    for _ in range(steps):
        neighbour_sum(u, 0, v)
        neighbour_sum(u, 1, h)
        np.add(v, h, out=v)
        np.multiply(u, 4.0, out=h)
        np.subtract(v, h, out=v)
        np.multiply(v, k, out=v)
        np.add(u, v, out=nxt)
        u, nxt = nxt, u
    return u
