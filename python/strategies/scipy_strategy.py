"""scipy (the book's `scipy.ndimage.laplace` remark): the Laplacian from
`scipy.ndimage.laplace(u, mode="wrap")`, then `u + k*lap`.

`laplace` sums the second differences axis by axis, `(u[i-1] - 2u + u[i+1]) +
(u[j-1] - 2u + u[j+1])`: another operation order than SPEC's, so this row is in the
tolerance class. Diffusion only (scipy has no Julia kernel).
"""

import scipy.ndimage


def evolve(grid, steps, k):
    u = grid
    for _ in range(steps):
        u = u + k * scipy.ndimage.laplace(u, mode="wrap")
    return u
