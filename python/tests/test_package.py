"""The Python package: every backend of the build from numpy, bad input as exceptions."""

import numpy as np
import pytest

import lancehead

BOOK_SUM = 33219980


def exact_backends():
    return [b["name"] for b in lancehead.backends()
            if b["available"] and b["agreement"] == "Exact" and not b["name"].startswith("mpi")]


def test_julia_book_sum_and_dtype():
    counts = lancehead.julia()
    assert counts.dtype == np.uint32 and counts.shape == (1000, 1000)
    assert int(counts.sum()) == BOOK_SUM


def test_backends_lists_scalar_and_reasons():
    listed = {b["name"]: b for b in lancehead.backends()}
    assert listed["scalar"]["available"] and listed["scalar"]["reason"] is None
    for b in listed.values():
        assert b["available"] or b["reason"], b


@pytest.mark.parametrize("backend", exact_backends())
def test_every_exact_backend_matches_scalar_bitwise(backend):
    ref = lancehead.julia(200, 120, backend="scalar")
    assert np.array_equal(lancehead.julia(200, 120, backend=backend), ref)
    rng = np.random.default_rng(7)
    # Random values of mixed magnitude: one changed rounding shows in the bits.
    grid = rng.random((37, 53)) * 10.0 ** rng.integers(-3, 4, (37, 53))
    want = lancehead.evolve(grid, 25, backend="scalar")
    got = lancehead.evolve(grid, 25, backend=backend)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


def test_evolve_matches_the_reference_file_and_conserves():
    import pathlib

    data = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
    init = np.load(data / "diffusion_random_48x64_init.npy")
    want = np.load(data / "diffusion_random_48x64_100steps.npy")
    got = lancehead.evolve(init, 100, dt=0.1, d=1.0)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
    assert got is not init and not np.shares_memory(got, init)


def test_in_place_returns_the_same_array():
    grid = np.zeros((64, 64))
    grid[20:30, 20:30] = 0.005
    want = lancehead.evolve(grid, 10, backend="scalar")
    same = lancehead.evolve(grid, 10, in_place=True)
    assert same is grid
    assert np.array_equal(grid, want)


def test_the_gil_is_released_during_the_kernel():
    import threading
    import time

    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.01)
    before = len(ticks)
    lancehead.julia(1000, max_iter=600, backend="scalar")  # about a second
    during = len(ticks) - before
    stop.set()
    t.join()
    assert during > 20, f"the other thread ran {during} times during the kernel"


@pytest.mark.parametrize("grid, exc, message", [
    (np.zeros((8, 8), dtype=np.float32), TypeError, "grid: dtype <f4 is not float64 (<f8)"),
    (np.zeros((8, 8), dtype=np.int64), TypeError, "is not float64 (<f8)"),
    (np.zeros((8, 8), order="F")[:, :7], ValueError, "must be a contiguous row-major (C order) array"),
    (np.asfortranarray(np.zeros((8, 9))), ValueError, "Fortran order"),
    (np.zeros((16, 16))[::2, ::2], ValueError, "must be a contiguous row-major (C order) array"),
    (np.zeros(8), ValueError, "a grid has 2"),
    ([[0.0, 1.0]], TypeError, "must be a numpy.ndarray of float64, got list"),
    (np.full((4, 4), np.nan), ValueError, "grid:"),
])
def test_bad_grids_raise_one_line(grid, exc, message):
    with pytest.raises(exc) as e:
        lancehead.evolve(grid, 1)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_parameters_raise_the_cli_messages():
    grid = np.zeros((8, 8))
    with pytest.raises(ValueError, match=r"unstable diffusion: d\*dt = 1\*0.3 = 0.3 exceeds 0.25"):
        lancehead.evolve(grid, 1, dt=0.3, d=1.0)
    with pytest.raises(ValueError, match="invalid steps = -1"):
        lancehead.evolve(grid, -1)
    with pytest.raises(ValueError, match="invalid width = 0: expected an integer >= 1"):
        lancehead.julia(0)
    with pytest.raises(ValueError, match="unknown backend `nope`"):
        lancehead.julia(10, backend="nope")
    with pytest.raises(ValueError, match="invalid region = 1,-1,-1,1: expected X1,X2,Y1,Y2 with X1 < X2"):
        lancehead.julia(10, region=(1.0, -1.0, -1.0, 1.0))
    ro = np.zeros((8, 8))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="in place"):
        lancehead.evolve(ro, 1, in_place=True)
    assert lancehead.evolve(ro, 1).shape == (8, 8)
