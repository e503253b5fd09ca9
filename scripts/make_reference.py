"""Reference results for the two kernels, computed with numpy in float64, in SPEC's canonical
operation order (every numpy operation below rounds once: numpy never fuses a multiply and an
add, and each parenthesised sum is its own array operation).

Run (needs numpy; CI does not, the files are committed):

    cargo run --example stress_inputs          # the diffusion stress cases' initial grids
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy
    /tmp/venv/bin/python scripts/make_reference.py

Writes the .npy files into tests/data/ and prints the checksums. The first part is SPEC §1's
reference table (the script in the project's shared reference folder, unchanged); the second
is the stress cases of src/problem/stress.rs (issue 11): chaotic Julia problems, and diffusion
grids over the whole finite range of f64, whose initial grids are the library's own (read from
the files `stress_inputs` writes, so no generator is written twice). The Julia parameters
below must stay those of `stress::julia_cases()`: tests/reference.rs compares `scalar` with
these files bit for bit, so any drift fails there.
"""
import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data")


def julia_coords(width, height, x1, x2, y1, y2):
    xs = x1 + np.arange(width, dtype=np.float64) * ((x2 - x1) / width)
    ys = y2 + np.arange(height, dtype=np.float64) * ((y1 - y2) / height)
    return xs, ys


def julia(width=1000, height=1000, region=(-1.8, 1.8, -1.8, 1.8), c=(-0.62772, -0.42193), max_iter=300):
    xs, ys = julia_coords(width, height, *region)
    zr = np.broadcast_to(xs[None, :], (height, width)).copy()
    zi = np.broadcast_to(ys[:, None], (height, width)).copy()
    cr, ci = c
    counts = np.zeros((height, width), dtype=np.uint32)
    active = np.ones((height, width), dtype=bool)
    for _ in range(max_iter):
        active &= (zr * zr + zi * zi) < 4.0
        if not active.any():
            break
        nr = (zr * zr - zi * zi) + cr
        ni = (2.0 * zr) * zi + ci
        zr = np.where(active, nr, zr)
        zi = np.where(active, ni, zi)
        counts += active
    return counts


def book_initial(rows, cols):
    u = np.zeros((rows, cols), dtype=np.float64)
    r0, r1 = int(rows * 0.4), int(rows * 0.5)
    c0, c1 = int(cols * 0.4), int(cols * 0.5)
    u[r0:r1, c0:c1] = 0.005
    return u


def diffuse(u, steps, dt=0.1, d=1.0):
    k = d * dt
    u = u.copy()
    # The stress grids overflow to inf and NaN on purpose: IEEE results, not errors.
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for _ in range(steps):
            vertical = np.roll(u, 1, axis=0) + np.roll(u, -1, axis=0)      # u[i-1][j] + u[i+1][j]
            horizontal = np.roll(u, 1, axis=1) + np.roll(u, -1, axis=1)    # u[i][j-1] + u[i][j+1]
            lap = (vertical + horizontal) - 4.0 * u
            u = u + k * lap
    return u


def save(name, array):
    np.save(os.path.join(DATA, name), array)


# The Julia stress cases of src/problem/stress.rs: (slug, width, height, region, c, max_iter).
SPIRAL_C = (-0.7269, 0.1889)
JULIA_STRESS = [
    ("spiral_301x199", 301, 199, (-1.8, 1.8, -1.8, 1.8), SPIRAL_C, 3000),
    ("spiral_centre_203x151", 203, 151, (-0.5, 0.5, -0.5, 0.5), SPIRAL_C, 3000),
    ("siegel_203x151", 203, 151, (-1.2, -0.2, -0.2, 0.8), (-0.391, -0.587), 3000),
    ("escape_circle_203x151", 203, 151,
     (1.4142135623730931, 1.4142135623730971, 1.4142135623730931, 1.4142135623730971), SPIRAL_C, 20),
]

# The diffusion stress cases: (slug, steps, dt, d); the initial grid is read from its file.
DIFFUSION_STRESS = [
    ("full_range", 11, 0.1, 1.0),
    ("subnormal", 3, 0.03, 2.5),
    ("signed_zeros", 2, 0.1, 1.0),
    ("overflow", 2, 0.1, 1.0),
    ("near_one", 50, 0.1, 1.0),
]


def spec_references():
    book = julia()
    print("julia book 1000x1000 max_iter=300 sum:", int(book.sum(dtype=np.uint64)))
    small = julia(width=200, height=120, max_iter=300)
    save("julia_200x120_it300.npy", small)
    print("julia 200x120 sum:", int(small.sum(dtype=np.uint64)))
    odd = julia(width=37, height=23, region=(-2.0, 1.0, -1.25, 1.5), c=(0.285, 0.01), max_iter=1000)
    save("julia_37x23_c0.285_0.01_it1000.npy", odd)
    print("julia 37x23 c=0.285+0.01i it=1000 sum:", int(odd.sum(dtype=np.uint64)))

    for n in (256, 512):
        out = diffuse(book_initial(n, n), 500)
        save(f"diffusion_book_{n}x{n}_500steps.npy", out)
        print(f"diffusion book {n}x{n} 500 steps: sum={out.sum():.17g} max={out.max():.17g} u[{n//2}][{n//2}]={out[n//2, n//2]:.17g}")
    rng = np.random.default_rng(20141)
    init = rng.random((48, 64))
    save("diffusion_random_48x64_init.npy", init)
    out = diffuse(init, 100)
    save("diffusion_random_48x64_100steps.npy", out)
    print(f"diffusion random 48x64 100 steps: sum={out.sum():.17g}")


def stress_references():
    for slug, width, height, region, c, max_iter in JULIA_STRESS:
        counts = julia(width=width, height=height, region=region, c=c, max_iter=max_iter)
        save(f"julia_stress_{slug}.npy", counts)
        print(f"julia stress {slug}: sum {int(counts.sum(dtype=np.uint64))}")
    for slug, steps, dt, d in DIFFUSION_STRESS:
        init = np.load(os.path.join(DATA, f"diffusion_stress_{slug}_init.npy"))
        assert init.dtype == np.float64 and init.ndim == 2, slug
        out = diffuse(init, steps, dt=dt, d=d)
        save(f"diffusion_stress_{slug}_{steps}steps.npy", out)
        finite = np.isfinite(out)
        print(f"diffusion stress {slug} {init.shape[0]}x{init.shape[1]} x {steps}: "
              f"{int(np.isnan(out).sum())} NaN, {int(np.isinf(out).sum())} inf, "
              f"{int((out == 0).sum())} zeros ({int(np.signbit(out[out == 0]).sum())} negative), "
              f"max |finite| {np.abs(out[finite]).max() if finite.any() else 0:.17g}")


if __name__ == "__main__":
    spec_references()
    stress_references()
