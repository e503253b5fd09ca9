#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian machine: installs what the tests need when
# it is missing, then runs every test of every feature.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need beyond the Rust toolchain and a C compiler.
need_packages=()
# The `fortran` backend (feature `fortran-ref`, in --all-features) needs gfortran.
command -v gfortran >/dev/null || need_packages+=(gfortran)
# The ctypes example of the C ABI (feature `capi`) runs under python3.
command -v python3 >/dev/null || need_packages+=(python3)
# lavapipe, Mesa's software Vulkan device (with f64 shaders): the GPU backends run on it.
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    need_packages+=(mesa-vulkan-drivers libvulkan1)
fi
# spirv-val: tests/shaders.rs validates every SPIR-V module of the exact GPU path with it.
command -v spirv-val >/dev/null || need_packages+=(spirv-tools)
# clang: the C reference's compiler x flags matrix builds with every C compiler found
# (tests/compilers.rs; without clang its rows say how to install it).
command -v clang >/dev/null || need_packages+=(clang)
# valgrind: `lancehead compare --counters callgrind` and its test.
command -v valgrind >/dev/null || need_packages+=(valgrind)
# The `mpi` backends (feature `mpi`): Open MPI to build against (bindgen needs libclang) and
# `mpirun` for tests/mpi.rs.
if ! command -v mpirun >/dev/null || ! [ -e /usr/lib/x86_64-linux-gnu/libmpi.so ] ||
    ! ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
    need_packages+=(libopenmpi-dev openmpi-bin libclang-dev)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${need_packages[@]}"
    else
        echo "missing Debian packages: ${need_packages[*]} (run as root to install them)" >&2
        exit 1
    fi
fi

cargo fmt --all -- --check
# tests/mpi.rs runs `mpirun` as root here (CI), oversubscribing two cores, in containers that
# may forbid ptrace (no cross-memory attach between ranks).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# The Python package (python/, PyO3 + maturin) and the book's Python strategies of
# `compare --python` (tests/python.rs, in the cargo test below): a virtualenv in target/ with
# the packages from PyPI. numpy, maturin and pytest are required; an optional package that
# fails to install is reported here, and its rows and tests say "not installed" (skipped).
venv=target/pyenv
if ! [ -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv "$venv"
    fi
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "numpy>=1.24" "maturin>=1.4,<2" "pytest>=7"
for package in "scipy>=1.10" "numexpr>=2.8" "numba>=0.58" "cython>=3.0" "pythran>=0.14"; do
    "$venv/bin/pip" install -q "$package" ||
        echo "WARNING: pip install $package failed: its Python rows and tests are skipped" >&2
done
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/maturin" develop --release -q -m python/Cargo.toml
"$venv/bin/python" -m pytest -q python/tests
export LANCEHEAD_PYTHON="$PWD/$venv/bin/python" LANCEHEAD_REQUIRE_PYTHON=1
# The Cython and Pythran builds and Numba's cache, kept between runs.
export LANCEHEAD_PYTHON_CACHE="$PWD/target/python-cache"

# Every backend and extra.
# LANCEHEAD_REQUIRE_GPU=1: a GPU test that finds no adapter fails instead of being skipped.
LANCEHEAD_REQUIRE_GPU=1 cargo test --all-features
# The C and Fortran references under AddressSanitizer and UndefinedBehaviorSanitizer
# (build.rs: LANCEHEAD_SANITIZE), every finding fatal: the FFI tests (awkward shapes among them)
# and the threads test (8 threads on one instance of each backend). The examples first, as
# tests/ffi.rs runs those of the same build.
export UBSAN_OPTIONS=print_stacktrace=1
LANCEHEAD_SANITIZE=address,undefined cargo build --features fortran-ref --examples
LANCEHEAD_SANITIZE=address,undefined cargo test --features fortran-ref --test ffi --test concurrency
# The build without clang: build.rs treats it as not installed (LANCEHEAD_CC_SKIP), the build
# succeeds and the clang rows of the compiler matrix say how to install it. Only the crate is
# rebuilt (the dependencies are shared); default features, as a user's first build.
LANCEHEAD_CC_SKIP=clang cargo test --features cli --test compilers
# The criterion benches must keep compiling (`cargo bench` runs them).
cargo bench --all-features --no-run
# A build without the optional backends (the CLI only): the registry must name the feature that
# brings each.
cargo test --no-default-features --features cli --test bad_input --test cli
# The kernels alone, as a crate that depends on lancehead with default-features = false gets
# them: they build, and none of the harness's or the binary's dependencies come along.
cargo build --no-default-features --lib
heavy=$(cargo tree -e normal --no-default-features --prefix none --format '{p}' |
    grep -E '^(clap|plotters|indicatif|resvg|comfy-table|csv|perf-event2) ' || true)
if [ -n "$heavy" ]; then
    echo "lancehead with default-features = false depends on: $heavy" >&2
    exit 1
fi
