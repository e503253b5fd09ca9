//! The C and Fortran references over FFI: their layout on non-square problems against numpy's
//! results, the safe wrappers' refusals, OpenMP determinism, the `c-native` difference report
//! and the Rust examples that call them. (Agreement with `scalar` on every input is
//! tests/agreement.rs, which covers every registered backend.)
#![cfg(any(feature = "c-ref", feature = "fortran-ref"))]

mod common;

use std::process::Command;

use common::{example, load};
use lancehead::agreement::{GridDiff, JuliaDiff};
use lancehead::problem::Kernel;
use lancehead::problem::julia::{BOOK_C, BOOK_MAX_ITER};
use lancehead::registry::Agreement;
use lancehead::{Backend, DiffusionParams, Error, JuliaParams, Region};
use ndarray::{Array2, ShapeBuilder, s};

/// The exact foreign backends of this build.
fn exact_foreign() -> Vec<Box<dyn Backend>> {
    let mut backends: Vec<Box<dyn Backend>> = Vec::new();
    #[cfg(feature = "c-ref")]
    {
        backends.push(Box::new(lancehead::ffi::c::c()));
        backends.push(Box::new(lancehead::ffi::c::openmp().unwrap()));
    }
    #[cfg(feature = "fortran-ref")]
    backends.push(Box::new(lancehead::ffi::fortran::backend()));
    backends
}

/// Non-square problems against numpy's files: a kernel that read Rust's row-major memory as
/// the transpose (the book's order='F' pitfall) could not match them.
#[test]
fn references_match_numpy_on_non_square_problems() {
    let wide = JuliaParams::new(200, 120, Region::BOOK, BOOK_C, BOOK_MAX_ITER).unwrap();
    let region = Region {
        x1: -2.0,
        x2: 1.0,
        y1: -1.25,
        y2: 1.5,
    };
    let small = JuliaParams::new(37, 23, region, (0.285, 0.01), 1000).unwrap();
    let diffusion = DiffusionParams::book(48, 64).unwrap();
    for backend in exact_foreign() {
        for (params, file) in [
            (&wide, "julia_200x120_it300.npy"),
            (&small, "julia_37x23_c0.285_0.01_it1000.npy"),
        ] {
            let counts = lancehead::julia(&*backend, params).unwrap();
            let expected: Array2<u32> = load(file);
            let diff = JuliaDiff::new(expected.view(), counts.view());
            assert_eq!(diff.differing, 0, "{} vs {file}: {diff}", backend.name());
        }
        let mut grid = load::<f64>("diffusion_random_48x64_init.npy");
        lancehead::evolve(&*backend, &diffusion, grid.view_mut(), 100).unwrap();
        let expected = load::<f64>("diffusion_random_48x64_100steps.npy");
        let diff = GridDiff::new(expected.view(), grid.view());
        assert_eq!(
            diff.differing,
            0,
            "{} diffusion 48x64: {diff}",
            backend.name()
        );
    }
}

/// Every foreign backend of this build: the exact ones and `c-native`.
fn all_foreign() -> Vec<Box<dyn Backend>> {
    let mut backends = exact_foreign();
    #[cfg(feature = "c-ref")]
    backends.push(Box::new(lancehead::ffi::c::native()));
    backends
}

/// The references on the shapes where an index is most easily off by one: 1 x 1, single rows
/// and columns, 2 x 2, primes; zero and one iterations or steps. Every buffer is exactly as
/// long as the problem, so under `LANCEHEAD_SANITIZE=address,undefined` (scripts/test.sh)
/// AddressSanitizer sees any read or write past an end, and UBSan any undefined arithmetic.
/// The results are held to each backend's class against `scalar`.
#[test]
fn references_on_awkward_shapes() {
    let scalar = common::scalar();
    let backends = all_foreign();
    let mut calls = 0;
    let sizes = [1, 2, 3, 7, 13, 31, 64];
    let shapes: Vec<(usize, usize)> = sizes
        .iter()
        .flat_map(|&a| [(1, a), (a, 1), (a, a)])
        .chain([(2, 3), (31, 17), (13, 7)])
        .collect();
    let regions = [
        (Region::BOOK, BOOK_C),
        // The edge of the set, where the counts run long.
        (
            Region {
                x1: -0.45,
                x2: 0.05,
                y1: 0.3,
                y2: 0.8,
            },
            (-0.7269, 0.1889),
        ),
    ];
    let mut rng = common::Rng::new(5);
    for &(rows, cols) in &shapes {
        for (region, c) in regions {
            for max_iter in [0, 1, 300] {
                let params = JuliaParams::new(cols, rows, region, c, max_iter).unwrap();
                let expected = common::julia(&*scalar, &params);
                for backend in &backends {
                    let counts = common::julia(&**backend, &params);
                    calls += 1;
                    let diff = JuliaDiff::new(expected.view(), counts.view());
                    let exact = backend.agreement(Kernel::Julia) == Agreement::Exact;
                    // A tolerance backend may count one pixel of a tiny image differently.
                    let ok = if exact {
                        diff.differing == 0
                    } else {
                        diff.max_abs <= max_iter
                    };
                    assert!(
                        ok,
                        "{} julia {cols}x{rows} max_iter {max_iter}: {diff}",
                        backend.name()
                    );
                }
            }
        }
        let params = DiffusionParams::book(rows, cols).unwrap();
        let init = rng.grid(rows, cols);
        for steps in [0, 1, 2, 5] {
            let expected = common::evolve(&*scalar, &params, init.view(), steps);
            for backend in &backends {
                let grid = common::evolve(&**backend, &params, init.view(), steps);
                calls += 1;
                let diff = GridDiff::new(expected.view(), grid.view());
                assert!(
                    diff.within(backend.agreement(Kernel::Diffusion)),
                    "{} diffusion {rows}x{cols} x {steps}: {diff}",
                    backend.name()
                );
            }
        }
    }
    for backend in &backends {
        let flags = backend
            .details()
            .into_iter()
            .find(|(key, _)| *key == "flags");
        println!(
            "{}: {}",
            backend.name(),
            flags.map_or(String::new(), |(_, f)| f)
        );
    }
    println!(
        "awkward shapes: {calls} calls of {} foreign backends, every result within its class",
        backends.len()
    );
}

/// The wrappers refuse, with an error and before any pointer crosses, every buffer the
/// foreign code could not read safely or correctly.
#[test]
fn wrappers_refuse_bad_buffers() {
    let params = JuliaParams::new(37, 23, Region::BOOK, BOOK_C, 50).unwrap();
    let dparams = DiffusionParams::book(23, 37).unwrap();
    for backend in exact_foreign() {
        let name = backend.name();
        let mut wrong = Array2::<u32>::zeros((37, 23));
        let err = backend.julia(&params, wrong.view_mut()).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{name}: {err}");

        // Every other column of a wider array: the right shape, but strided.
        let mut wider = Array2::<u32>::zeros((23, 74));
        let err = backend
            .julia(&params, wider.slice_mut(s![.., ..;2]))
            .unwrap_err();
        assert!(matches!(err, Error::NotContiguous { .. }), "{name}: {err}");

        // Column-major (Fortran order) memory of the right shape is refused, not misread.
        let mut fortran_order = Array2::<f64>::zeros((23, 37).f());
        let mut scratch = dparams.new_grid().unwrap();
        let err = backend
            .evolve(&dparams, fortran_order.view_mut(), scratch.view_mut(), 1)
            .unwrap_err();
        assert!(matches!(err, Error::NotContiguous { .. }), "{name}: {err}");

        let mut grid = dparams.new_grid().unwrap();
        let mut small_scratch = Array2::<f64>::zeros((23, 36));
        let err = backend
            .evolve(&dparams, grid.view_mut(), small_scratch.view_mut(), 1)
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{name}: {err}");
    }
}

/// Fortran counts in signed 32-bit integers: larger counts are refused by name.
#[cfg(feature = "fortran-ref")]
#[test]
fn fortran_refuses_counts_beyond_int32() {
    use lancehead::{DiffusionKernel, JuliaKernel};
    let backend = lancehead::ffi::fortran::backend();
    let params = JuliaParams::new(2, 2, Region::BOOK, BOOK_C, i32::MAX as u32 + 1).unwrap();
    let mut counts = params.new_counts().unwrap();
    let err = backend.julia(&params, counts.view_mut()).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid max-iter = 2147483648"),
        "{err}"
    );

    let dparams = DiffusionParams::book(2, 2).unwrap();
    let (mut grid, mut scratch) = (dparams.new_grid().unwrap(), dparams.new_grid().unwrap());
    let err = backend
        .evolve(&dparams, grid.view_mut(), scratch.view_mut(), u32::MAX)
        .unwrap_err();
    assert!(
        err.to_string().starts_with("invalid steps = 4294967295"),
        "{err}"
    );

    // The limit itself is accepted (zero steps of work: max_iter only bounds the loop).
    let ok = JuliaParams::new(1, 1, Region::BOOK, (10.0, 10.0), i32::MAX as u32).unwrap();
    let counts = lancehead::julia(&backend, &ok).unwrap();
    assert_eq!(counts, lancehead::julia(&*common::scalar(), &ok).unwrap());
}

/// `c-openmp` gives the same bits whatever OMP_NUM_THREADS says. The thread count is fixed
/// when the OpenMP runtime starts, so each count runs in its own `lancehead` process.
#[cfg(feature = "c-ref")]
#[test]
fn c_openmp_does_not_depend_on_omp_num_threads() {
    let dir = tempfile::tempdir().unwrap();
    let run = |backend: &str, threads: &str, kernel: &str| {
        let out = dir.path().join(format!("{kernel}-{backend}-{threads}.npy"));
        let args: &[&str] = match kernel {
            "julia" => &["julia", "--width", "301", "--height", "199"],
            _ => &["diffusion", "--shape", "70x90", "--steps", "13"],
        };
        let run = Command::new(env!("CARGO_BIN_EXE_lancehead"))
            .args(args)
            .args(["--backend", backend, "--out"])
            .arg(&out)
            .env("OMP_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{kernel} --backend {backend}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::read(out).unwrap()
    };
    for kernel in ["julia", "diffusion"] {
        let expected = run("scalar", "1", kernel);
        for threads in ["1", "2", "3", "7"] {
            assert!(
                run("c-openmp", threads, kernel) == expected,
                "c-openmp {kernel} with OMP_NUM_THREADS={threads} differs from scalar"
            );
        }
    }
}

/// How far `c-native` (FMA contraction, -march=native) is from `scalar` on the book's
/// problems, printed for the record (`cargo test -- --nocapture`) and held to its class.
#[cfg(feature = "c-ref")]
#[test]
fn c_native_difference_report() {
    use lancehead::registry::{self, Agreement};
    let info = registry::info("c-native").unwrap();
    assert_eq!(
        (info.julia, info.diffusion),
        (Agreement::ToleranceF64, Agreement::ToleranceF64)
    );
    let native = lancehead::ffi::c::native();
    let scalar = common::scalar();

    let params = JuliaParams::book();
    let expected = lancehead::julia(&*scalar, &params).unwrap();
    let diff = JuliaDiff::new(
        expected.view(),
        lancehead::julia(&native, &params).unwrap().view(),
    );
    println!(
        "c-native julia book 1000x1000: {} pixels differ, checksum Δ {}, max |Δcount| {}",
        diff.differing, diff.checksum_diff, diff.max_abs
    );
    assert!(diff.within(info.julia), "c-native julia: {diff}");

    for size in [256, 512] {
        let params = DiffusionParams::book(size, size).unwrap();
        let init = params.book_initial().unwrap();
        let (mut reference, mut grid) = (init.clone(), init);
        lancehead::evolve(&*scalar, &params, reference.view_mut(), 500).unwrap();
        lancehead::evolve(&native, &params, grid.view_mut(), 500).unwrap();
        let diff = GridDiff::new(reference.view(), grid.view());
        let sums = (
            lancehead::problem::diffusion::checksum(reference.view()),
            lancehead::problem::diffusion::checksum(grid.view()),
        );
        println!(
            "c-native diffusion book {size}x{size} x 500: {} of {} cells differ, max |Δ| {:e}, \
             max relative {:e}, max {} ULP; sum {:?} vs scalar {:?}",
            diff.differing, diff.cells, diff.max_abs, diff.max_rel, diff.max_ulp, sums.1, sums.0
        );
        assert!(
            diff.within(info.diffusion),
            "c-native diffusion {size}: {diff}"
        );
    }
}

fn run_example(name: &str) -> String {
    let out = Command::new(example(name)).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "example {name} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{stdout}");
    stdout
}

#[cfg(feature = "c-ref")]
#[test]
fn c_reference_example_prints_the_books_results() {
    let out = run_example("c_reference");
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{out}"))
    };
    for backend in ["c", "c-native", "c-openmp"] {
        let flags = line(&format!("{backend}: "));
        assert!(
            flags.contains(" -O3 ") && flags.contains("-std=c99"),
            "{flags}"
        );
        let julia = line(&format!("{backend} julia 1000x1000: sum 33219980 "));
        if backend != "c-native" {
            assert!(julia.ends_with("identical to scalar"), "{julia}");
        }
        line(&format!("{backend} diffusion 256x256 x 500: sum "));
    }
    // The exact builds give numpy's book result to the last bit; c-native may round apart.
    for backend in ["c", "c-openmp"] {
        let diffusion = line(&format!(
            "{backend} diffusion 256x256 x 500: sum 3.3800000000000003 "
        ));
        assert!(
            diffusion.ends_with("bitwise identical to scalar"),
            "{diffusion}"
        );
    }
}

#[cfg(feature = "fortran-ref")]
#[test]
fn fortran_reference_example_prints_the_books_results() {
    let out = run_example("fortran_reference");
    for line in [
        "julia 1000x1000: sum 33219980, identical to scalar",
        "julia 200x120: sum 785648, identical to scalar",
        "diffusion 256x256 x 500: sum 3.3800000000000003, bitwise identical to scalar",
        "diffusion 96x160 x 500: sum ",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("differs"), "{out}");
}
