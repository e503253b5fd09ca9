//! The C reference of `c_ref/` built by every C compiler found in a fixed set of flag
//! strategies (the book's chapter 7 compiler comparison, issue 16): `c`, `c-native`,
//! `c-openmp`, `c-native-openmp` (gcc), `c-gcc-O2`, `c-clang-O3`, ... build.rs compiles each
//! available pair into its own static library with its own symbol prefix, and generates the
//! declarations and the table ([`PAIRS`]) this module makes backends from.

use std::ffi::c_int;
use std::sync::OnceLock;

use crate::backend::threads::{self, Form};
use crate::error::{Error, Result};
use crate::ffi::foreign::{DiffusionFn, Foreign, JuliaFn, foreign_kernels};

/// One compiler x flags pair of the matrix, as build.rs found it.
pub struct Pair {
    /// The backend's name (SPEC §2).
    pub name: &'static str,
    /// `gcc` or `clang`.
    pub compiler: &'static str,
    pub openmp: bool,
    /// Built with `-ffast-math`.
    pub fast_math: bool,
    /// The build, or why there is none (`not installed: apt-get install clang`).
    pub outcome: std::result::Result<Built, &'static str>,
}

/// A built pair.
pub struct Built {
    /// The first line of the compiler's `--version`.
    pub version: &'static str,
    pub flags: &'static str,
    /// What the compiler's own report said about the inner loop of Julia and of diffusion
    /// (`vectorised (8 x f64)`, `not vectorised: <reason>`).
    pub vectorised: [&'static str; 2],
    julia: JuliaFn,
    diffusion: DiffusionFn,
}

include!(concat!(env!("OUT_DIR"), "/c_matrix_ffi.rs"));

/// The pair of backend `name`, if it is one of the matrix.
pub fn pair(name: &str) -> Option<&'static Pair> {
    PAIRS.iter().find(|p| p.name == name)
}

/// Backend `name` of the matrix, or why it cannot run here (not built: its compiler is
/// missing; an OpenMP runtime that would start too many threads).
pub fn backend(name: &str) -> Result<Foreign> {
    let unavailable = |reason: String| Error::Unavailable {
        name: name.to_string(),
        reason,
    };
    let pair = pair(name).ok_or_else(|| unavailable("not a pair of the C matrix".into()))?;
    let built = pair
        .outcome
        .as_ref()
        .map_err(|r| unavailable(r.to_string()))?;
    let details = move || {
        let mut details = vec![
            ("compiler", built.version.to_string()),
            ("flags", built.flags.to_string()),
            ("vectorised julia", built.vectorised[0].to_string()),
            ("vectorised diffusion", built.vectorised[1].to_string()),
        ];
        if pair.openmp {
            details.push(("threads", openmp_threads().to_string()));
        }
        details
    };
    // SAFETY: every build of c_ref/ keeps the header's contract (no state, no unwinding, u32
    // counts); only the compiler and its flags differ. OpenMP's threads only write disjoint
    // rows of the caller's buffers and have joined when the call returns.
    let mut foreign =
        unsafe { Foreign::new(pair.name, built.julia, built.diffusion, u32::MAX, details) };
    if pair.fast_math {
        foreign = foreign.with_finite_math_only();
    }
    if pair.openmp {
        // The thread count is checked before any call can start the runtime's threads.
        check_openmp_threads().map_err(|e| match e {
            Error::Unavailable { reason, .. } => unavailable(reason),
            other => other,
        })?;
        return Ok(foreign.with_threads(openmp_threads));
    }
    Ok(foreign)
}

unsafe extern "C" {
    /// The OpenMP runtime's thread count for the next parallel region (OMP_NUM_THREADS, or
    /// one per core); the same entry point in GCC's libgomp and LLVM's libomp.
    fn omp_get_max_threads() -> c_int;
}

/// `c`: gcc -O3 -ffp-contract=off, one thread. Exact. (gcc is required by the `c-ref`
/// feature, so its members are always built.)
pub fn c() -> Foreign {
    backend("c").expect("gcc's members are always built with `c-ref`")
}

/// `c-native`: gcc -O3 -march=native with fused multiply-adds allowed. Tolerance class.
pub fn native() -> Foreign {
    backend("c-native").expect("gcc's members are always built with `c-ref`")
}

/// `c-openmp`: gcc -O3 -fopenmp -ffp-contract=off, rows in `schedule(guided)`. Exact
/// whatever the thread count: each row is computed the same way by whichever thread.
///
/// Fails when the OpenMP runtime would start more threads than [`threads`] accepts, or
/// `OMP_NUM_THREADS` is not a thread count: libgomp crashed at its first parallel region with
/// `OMP_NUM_THREADS=100000`.
pub fn openmp() -> Result<Foreign> {
    backend("c-openmp")
}

/// Checks `OMP_NUM_THREADS` and the count the runtime took from it, once per process: the
/// runtime reads the variable once, when it is loaded.
fn check_openmp_threads() -> Result<()> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        threads::from_env("OMP_NUM_THREADS", Form::List).map_err(|e| e.to_string())?;
        // What the runtime will start, however it got there (the variable as it was at load
        // time, or its default of one thread per CPU).
        // SAFETY: a query of the OpenMP runtime, callable at any time; it starts no thread.
        let runtime = unsafe { omp_get_max_threads() };
        let max = threads::max_threads();
        if usize::try_from(runtime).is_ok_and(|n| (1..=max).contains(&n)) {
            Ok(())
        } else {
            Err(format!(
                "the OpenMP runtime would start {runtime} threads, more than the {max} \
                 accepted ({} per logical CPU); set OMP_NUM_THREADS from 1 to {max}",
                threads::MAX_THREADS_PER_CPU
            ))
        }
    });
    checked.clone().map_err(|reason| Error::Unavailable {
        name: "c-openmp".to_string(),
        reason,
    })
}

/// The OpenMP runtime's thread count for the next parallel region.
fn openmp_threads() -> usize {
    // SAFETY: a query of the OpenMP runtime, callable at any time.
    let threads = unsafe { omp_get_max_threads() };
    usize::try_from(threads).unwrap_or(1).max(1)
}
