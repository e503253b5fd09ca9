//! Threads: one instance of every backend shared by 8 threads, and thread counts from the
//! environment (defect 6 of issue 11).

mod common;

use std::process::Command;
use std::sync::Barrier;

use lancehead::registry;
use lancehead::{Backend, DiffusionParams, JuliaParams, Region};
use ndarray::Array2;

/// Threads sharing one backend instance.
const THREADS: usize = 8;
/// Times each thread makes every call.
const ROUNDS: usize = 2;

/// One call of a kernel.
enum Call {
    Julia(JuliaParams),
    Diffusion(DiffusionParams, Array2<f64>, u32),
}

/// A call's result, as bits: counts, or each grid value's `to_bits` (NaN matches NaN).
#[derive(Debug, PartialEq, Eq)]
enum Bits {
    Counts(Vec<u32>),
    Grid(Vec<u64>),
}

/// Both kernels on awkward and chaotic problems: single rows and columns, odd sizes that are
/// no multiple of a vector width or a thread count, zero steps, and a Julia region on the
/// set's edge where counts run long and differ row to row.
fn calls() -> Vec<Call> {
    let julia = |w, h, region: (f64, f64, f64, f64), c, max_iter| {
        let (x1, x2, y1, y2) = region;
        let region = Region { x1, x2, y1, y2 };
        Call::Julia(JuliaParams::new(w, h, region, c, max_iter).unwrap())
    };
    let mut rng = common::Rng::new(11);
    let mut diffusion = |rows, cols, dt, d, steps| {
        let params = DiffusionParams::new(rows, cols, dt, d).unwrap();
        Call::Diffusion(params, rng.grid(rows, cols), steps)
    };
    let book = (-1.8, 1.8, -1.8, 1.8);
    vec![
        julia(97, 61, book, (-0.62772, -0.42193), 300),
        diffusion(31, 67, 0.1, 1.0, 13),
        julia(1, 37, (-2.0, 1.0, -1.25, 1.5), (0.285, 0.01), 1000),
        diffusion(1, 40, 0.1, 1.0, 7),
        julia(64, 1, book, (-0.8, 0.156), 500),
        diffusion(40, 1, 0.05, 2.0, 8),
        julia(53, 47, (-0.45, 0.05, 0.3, 0.8), (-0.7269, 0.1889), 2000),
        diffusion(129, 35, 0.25, 1.0, 9),
        diffusion(3, 3, 0.1, 1.0, 0),
        julia(2, 2, book, (-0.62772, -0.42193), 0),
    ]
}

fn run(backend: &dyn Backend, call: &Call) -> Bits {
    match call {
        Call::Julia(params) => {
            let counts = lancehead::julia(backend, params).unwrap();
            Bits::Counts(counts.into_raw_vec_and_offset().0)
        }
        Call::Diffusion(params, init, steps) => {
            let grid = common::evolve(backend, params, init.view(), *steps);
            Bits::Grid(grid.iter().map(|x| x.to_bits()).collect())
        }
    }
}

/// One instance of each backend, shared by 8 threads that make every call twice, each
/// thread in its own order (Julia and diffusion calls running at once), all starting
/// together: every result is bitwise the one the same instance gave when called serially.
#[test]
fn one_instance_shared_by_8_threads_gives_the_serial_results() {
    for info in registry::KNOWN {
        if !registry::compiled().any(|c| c.name == info.name) {
            eprintln!(
                "SKIPPED ******** backend {}: not built (feature {:?})",
                info.name,
                info.feature.unwrap_or("default")
            );
        }
    }
    let calls = calls();
    for backend in common::runnable_backends() {
        let backend = &*backend;
        let serial: Vec<Bits> = calls.iter().map(|call| run(backend, call)).collect();
        let start = Barrier::new(THREADS);
        let mismatches: Vec<String> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (calls, serial, start) = (&calls, &serial, &start);
                    scope.spawn(move || {
                        start.wait();
                        let mut mismatches = Vec::new();
                        for round in 0..ROUNDS {
                            for k in 0..calls.len() {
                                // Each thread starts elsewhere; odd threads walk backwards.
                                let i = if t % 2 == 0 {
                                    k + t
                                } else {
                                    calls.len() * 2 - k + t
                                };
                                let i = i % calls.len();
                                if run(backend, &calls[i]) != serial[i] {
                                    mismatches.push(format!("thread {t} round {round} call {i}"));
                                }
                            }
                        }
                        mismatches
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        assert!(
            mismatches.is_empty(),
            "{}: {} of {} concurrent results differ from the serial ones: {mismatches:?}",
            backend.name(),
            mismatches.len(),
            THREADS * ROUNDS * calls.len()
        );
        println!(
            "{}: {THREADS} threads x {} calls, every result identical to the serial one",
            backend.name(),
            ROUNDS * calls.len()
        );
    }
}

/// The thread-count variables of this build and a backend that reads each.
fn thread_variables() -> Vec<(&'static str, &'static str)> {
    let mut variables = Vec::new();
    if cfg!(feature = "rayon") {
        variables.push(("RAYON_NUM_THREADS", "rayon"));
    }
    if cfg!(feature = "c-ref") {
        variables.push(("OMP_NUM_THREADS", "c-openmp"));
    }
    variables
}

/// libgomp parses OMP_NUM_THREADS when the process loads it, before `main`, and says so on
/// stderr when it cannot (an empty line, then this one); it then runs with its default. That
/// notice is libgomp's own and cannot be prevented from inside the process.
const LIBGOMP_NOTICE: &str = "libgomp: Invalid value for environment variable OMP_NUM_THREADS";

fn lancehead_with(variable: &str, value: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lancehead"))
        .args(args)
        .env(variable, value)
        .output()
        .unwrap()
}

/// Defect 6: `RAYON_NUM_THREADS=100000` panicked and `OMP_NUM_THREADS=100000` crashed inside
/// libgomp; `0`, `abc` and an empty value were silently replaced by the default. Each is now
/// one line naming the variable and what it accepts, with exit status 1.
#[test]
fn bad_thread_counts_are_one_line_errors_from_the_cli() {
    for (variable, backend) in thread_variables() {
        for kernel in [
            &["julia", "--width", "16", "--height", "9"][..],
            &["diffusion", "--shape", "9x16", "--steps", "3"][..],
        ] {
            let args = [kernel, &["--backend", backend]].concat();
            for bad in ["0", "100000", "abc", "", "-3", "2,0"] {
                let out = lancehead_with(variable, bad, &args);
                let stderr = String::from_utf8_lossy(&out.stderr);
                let ours: Vec<&str> = stderr
                    .lines()
                    .filter(|l| !(variable == "OMP_NUM_THREADS" && l.is_empty()))
                    .filter(|l| *l != LIBGOMP_NOTICE)
                    .collect();
                let context = format!("{variable}={bad:?} {args:?}: {:?}, {stderr}", out.status);
                assert_eq!(out.status.code(), Some(1), "{context}");
                assert_eq!(ours.len(), 1, "{context}");
                let line = ours[0];
                let expected = format!(
                    "lancehead: error: backend `{backend}` is unavailable: invalid {variable} = \
                     {bad}: expected an integer from 1 to "
                );
                assert!(line.starts_with(&expected), "{context}");
            }
            for good in ["1", "3"] {
                let out = lancehead_with(variable, good, &args);
                assert!(
                    out.status.success() && out.stderr.is_empty(),
                    "{variable}={good} {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// Every backend that runs on the pool a variable sizes.
fn backends_sized_by(variable: &str) -> Vec<&'static str> {
    match variable {
        "RAYON_NUM_THREADS" => {
            let mut names = vec!["rayon", "simd-rayon", "simd-wavefront"];
            if cfg!(feature = "mpi") {
                names.push("mpi:simd-wavefront");
            }
            names
        }
        "OMP_NUM_THREADS" => vec!["c-openmp"],
        _ => unreachable!("{variable}"),
    }
}

/// `lancehead backends` still lists every backend, and says why each one a bad variable
/// concerns cannot run (before the fix, `mpi:simd-wavefront` asked rayon for its thread count
/// unchecked, and rayon tried to start 100000 threads).
#[test]
fn backends_says_which_variable_stops_a_backend() {
    for (variable, _) in thread_variables() {
        let out = lancehead_with(variable, "100000", &["backends", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for backend in backends_sized_by(variable) {
            let entry = list
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["name"] == backend)
                .unwrap_or_else(|| panic!("{backend} is not listed"));
            assert_eq!(entry["available"], false, "{entry}");
            let reason = entry["reason"].as_str().unwrap();
            assert!(
                reason.starts_with(&format!("invalid {variable} = 100000: expected")),
                "{backend}: {reason}"
            );
        }
        // The other backends are unaffected.
        let scalar = list
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "scalar");
        assert_eq!(scalar.unwrap()["available"], true);
    }
}
