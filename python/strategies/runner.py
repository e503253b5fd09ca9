"""The runner of the book's Python strategies for `lancehead compare --python`.

Protocol (one JSON object a line; the harness is the other end):

    runner.py probe CACHE        -> {"python": ..., "numpy": ..., "strategies": [...]}
    runner.py serve CACHE        <- {"strategy", "kernel", and the workload (below)}
                                 -> {"ready": true, "compile_seconds", "probes",
                                     "probe_steps", "versions"}  (or {"error": ...})
                                 <- "call"   -> {"seconds": s}   the kernel call alone
                                 <- "save"   -> {"saved": path}  the last result as .npy
                                 <- end of input: exit

Julia workload: {"xs": path.npy, "ys": path.npy, "cr", "ci", "max_iter", "out": path.npy};
the coordinates are the harness's (computed once, SPEC §1), never recomputed here.
Diffusion workload: {"init": path.npy, "steps", "k", "out": path.npy}; `k = d*dt` as the
harness computed it. Every call starts from the initial grid (copied untimed).

Before "ready" the strategy is built (Cython and Pythran compile at first use into CACHE)
and run once on a tiny problem (Numba's JIT compiles then): `compile_seconds` is that
time, kept apart from the timed runs. Two probe runs then, a small problem and one about
four times larger (`probes`: seconds, updates, pixels each), from which the harness
predicts the real call and applies its budget before asking for one.
"""

import importlib
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# name: (module or builder, julia function, diffusion function, package, pip name, classes)
# Classes are as measured on this project's machines (README, "Python strategies"); the
# harness checks every row against `scalar` in its class.
STRATEGIES = {
    "pure": ("pure", "julia", "evolve", None, None, ("exact", "exact")),
    "numpy": ("numpy_strategies", "julia", "evolve", None, None, ("exact", "exact")),
    "numpy-inplace": ("numpy_strategies", None, "evolve_inplace", None, None, (None, "exact")),
    "numexpr": ("numexpr_strategy", "julia", "evolve", "numexpr", "numexpr", ("exact", "exact")),
    "scipy": ("scipy_strategy", None, "evolve", "scipy", "scipy", (None, "tolerance")),
    "numba": ("numba_strategies", "julia", "evolve", "numba", "numba", ("exact", "exact")),
    "numba-prange": (
        "numba_strategies", "julia_prange", "evolve_prange", "numba", "numba", ("exact", "exact"),
    ),
    "cython": ("@cython", "julia", "evolve", "Cython", "cython", ("exact", "exact")),
    "cython-prange": ("@cython", "julia", "evolve", "Cython", "cython", ("exact", "exact")),
    "pythran": ("@pythran", "julia", "evolve", "pythran", "pythran", ("exact", "exact")),
}
PARALLEL = {"numba-prange", "cython-prange"}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def version(package):
    try:
        from importlib.metadata import version as v

        return v(package)
    except Exception:
        mod = importlib.import_module(package)
        return getattr(mod, "__version__", "?")


def missing(package, pip_name):
    """Why `package` cannot be used, or None."""
    if package is None:
        return None
    try:
        importlib.import_module(package)
    except Exception as e:  # ImportError, or a broken install
        return f"not installed: pip install {pip_name} ({type(e).__name__})"
    if package == "Cython" or package == "pythran":
        import shutil

        compiler = "gcc" if package == "Cython" else "g++"
        if shutil.which(compiler) is None:
            return f"not installed: apt-get install {compiler} (needed to compile {package})"
    return None


def compiled_module(kind, cache):
    """Builds (once; cached in CACHE) and imports the Cython or Pythran module."""
    cache = os.path.abspath(cache)
    os.makedirs(cache, exist_ok=True)
    tag = sys.implementation.cache_tag.replace("-", "_")
    if kind == "@cython":
        src, name = "cython_kernels.pyx", f"lancehead_cython_{tag}"
    else:
        src, name = "pythran_kernels.py", f"lancehead_pythran_{tag}"
    with open(os.path.join(HERE, src), "rb") as f:
        code = f.read()
    import hashlib

    name += "_" + hashlib.sha256(code).hexdigest()[:12]
    sys.path.insert(0, cache)
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    env = dict(os.environ)
    log = os.path.join(cache, name + ".log")
    if kind == "@cython":
        path = os.path.join(cache, name + ".pyx")
        with open(path, "wb") as f:
            f.write(code)
        env["CFLAGS"] = "-O3 -fopenmp"
        env["LDFLAGS"] = "-fopenmp"
        cmd = [sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-3", "-q", path]
    else:
        # Not `name.py`: that would import as plain Python if the build failed.
        path = os.path.join(cache, name + "_source.py")
        with open(path, "wb") as f:
            f.write(code)
        cmd = [sys.executable, "-m", "pythran.run", "-O3", path, "-o",
               os.path.join(cache, name + ".so")]
    with open(log, "w") as out:
        done = subprocess.run(cmd, cwd=cache, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        with open(log) as f:
            tail = " | ".join(f.read().strip().splitlines()[-3:])
        raise RuntimeError(f"{kind[1:]} build failed (log {log}): {tail}")
    importlib.invalidate_caches()
    return importlib.import_module(name)


def kernel_of(strategy, kernel, cache):
    module, jname, dname, package, pip_name, _ = STRATEGIES[strategy]
    fname = jname if kernel == "julia" else dname
    mod = compiled_module(module, cache) if module.startswith("@") else importlib.import_module(module)
    f = getattr(mod, fname)
    if module == "@cython":
        parallel = strategy in PARALLEL
        if kernel == "julia":
            return lambda xs, ys, cr, ci, m: f(xs, ys, cr, ci, m, parallel)
        return lambda g, s, k: f(g, s, k, parallel)
    if strategy == "pure":
        if kernel == "julia":
            return lambda xs, ys, cr, ci, m: f(xs.tolist(), ys.tolist(), cr, ci, m)
        return lambda g, s, k: f(g.tolist(), s, k)
    return f


def probe(cache):
    import numpy

    out = []
    for name, (_, jname, dname, package, pip_name, classes) in STRATEGIES.items():
        reason = missing(package, pip_name)
        out.append({
            "name": name,
            "kernels": [k for k, f in (("julia", jname), ("diffusion", dname)) if f],
            "available": reason is None,
            "reason": reason,
            "package": package,
            "version": None if reason or not package else version(package),
            "parallel": name in PARALLEL,
            "agreement": {"julia": classes[0], "diffusion": classes[1]},
        })
    reply({
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": numpy.__version__,
        "cache": cache,
        "strategies": out,
    })


def serve(cache):
    import numpy as np

    request = json.loads(sys.stdin.readline())
    strategy, kernel = request["strategy"], request["kernel"]
    package = STRATEGIES[strategy][3]
    versions = {"python": f"{platform.python_implementation()} {platform.python_version()}",
                "numpy": np.__version__}
    if package:
        versions[package] = version(package)
    try:
        start = time.perf_counter()
        f = kernel_of(strategy, kernel, cache)
        if kernel == "julia":
            xs = np.load(request["xs"]).ravel()
            ys = np.load(request["ys"]).ravel()
            cr, ci, max_iter = float(request["cr"]), float(request["ci"]), int(request["max_iter"])
            # The probes: every 16th and every 8th coordinate of the real problem.
            def call():
                return f(xs, ys, cr, ci, max_iter)

            def probe(stride):
                pxs = np.ascontiguousarray(xs[::stride])
                pys = np.ascontiguousarray(ys[::stride])
                t0 = time.perf_counter()
                r = f(pxs, pys, cr, ci, max_iter)
                seconds = time.perf_counter() - t0
                updates = int(np.asarray(r, dtype=np.uint64).sum())
                return {"seconds": seconds, "updates": updates, "pixels": pxs.size * pys.size}

            probe(16)
            compile_seconds = time.perf_counter() - start
            probes = [probe(16), probe(8)]
            probe_steps = None

            def as_array(r):
                return np.ascontiguousarray(np.asarray(r, dtype=np.uint32))
        else:
            init = np.load(request["init"])
            steps, k = int(request["steps"]), float(request["k"])
            probe_steps = 4

            def probe(side):
                g = np.ascontiguousarray(init[:side, :side])
                t0 = time.perf_counter()
                f(g.copy(), probe_steps, k)
                seconds = time.perf_counter() - t0
                return {"seconds": seconds, "updates": g.size * probe_steps, "pixels": g.size}

            probe(64)
            compile_seconds = time.perf_counter() - start
            probes = [probe(64), probe(128)]

            def as_array(r):
                return np.ascontiguousarray(np.asarray(r, dtype=np.float64))
    except Exception as e:
        reply({"error": f"{type(e).__name__}: {e}".replace("\n", " ")})
        return
    reply({"ready": True, "compile_seconds": compile_seconds, "probes": probes,
           "probe_steps": probe_steps, "versions": versions})
    result = None
    for line in sys.stdin:
        command = line.strip()
        if command == "call":
            if kernel == "diffusion":
                fresh = init.copy()  # untimed: every call starts from the initial grid
                t0 = time.perf_counter()
                result = f(fresh, steps, k)
            else:
                t0 = time.perf_counter()
                result = call()
            reply({"seconds": time.perf_counter() - t0})
        elif command == "save" and result is not None:
            np.save(request["out"], as_array(result))
            reply({"saved": request["out"]})
        else:
            reply({"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    mode, cache = sys.argv[1], sys.argv[2]
    if mode == "probe":
        probe(cache)
    elif mode == "serve":
        serve(cache)
    else:
        sys.exit(f"usage: runner.py probe|serve CACHE (got {mode!r})")
