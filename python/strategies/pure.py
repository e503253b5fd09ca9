"""Pure Python (the book's Examples 2-1 and 6-3): lists of floats, one update at a time.

Both kernels in SPEC's canonical operation order; CPython floats are IEEE doubles and each
operation rounds once, so the results are bitwise those of `scalar`.
"""


def julia(xs, ys, cr, ci, max_iter):
    xs = [float(x) for x in xs]
    counts = []
    for y in ys:
        y = float(y)
        row = []
        for x in xs:
            zr, zi, n = x, y, 0
            while n < max_iter and zr * zr + zi * zi < 4.0:
                t = (zr * zr - zi * zi) + cr
                zi = (2.0 * zr) * zi + ci
                zr = t
                n += 1
            row.append(n)
        counts.append(row)
    return counts


def evolve(grid, steps, k):
    """`grid` is a list of rows; returns the grid after `steps` steps."""
    rows, cols = len(grid), len(grid[0])
    u = [list(r) for r in grid]
    nxt = [[0.0] * cols for _ in range(rows)]
    for _ in range(steps):
        for i in range(rows):
            up, row, down = u[(i - 1) % rows], u[i], u[(i + 1) % rows]
            out = nxt[i]
            for j in range(cols):
                v = up[j] + down[j]
                h = row[(j - 1) % cols] + row[(j + 1) % cols]
                lap = (v + h) - 4.0 * row[j]
                out[j] = row[j] + k * lap
        u, nxt = nxt, u
    return u
