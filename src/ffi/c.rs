//! `c`, `c-native` and `c-openmp`: the C reference of `c_ref/`, compiled three ways by
//! build.rs (the book's compiler-strategy comparison). Each copy has its own symbol prefix.

use std::ffi::c_int;
use std::sync::OnceLock;

use crate::backend::threads::{self, Form};
use crate::error::{Error, Result};
use crate::ffi::foreign::{Foreign, foreign_kernels};

foreign_kernels! {
    lh_c_julia, lh_c_diffusion;
    lh_c_native_julia, lh_c_native_diffusion;
    lh_c_openmp_julia, lh_c_openmp_diffusion;
}

unsafe extern "C" {
    /// The OpenMP runtime's thread count for the next parallel region (OMP_NUM_THREADS, or
    /// one per core); the same entry point in GCC's libgomp and LLVM's libomp.
    fn omp_get_max_threads() -> c_int;
}

/// `c`: gcc -O3 -ffp-contract=off, one thread. Exact.
pub fn c() -> Foreign {
    // SAFETY: c_ref/ keeps the header's contract (no state, no unwinding, u32 counts).
    unsafe {
        Foreign::new("c", lh_c_julia, lh_c_diffusion, u32::MAX, || {
            details(env!("LANCEHEAD_FLAGS_C"))
        })
    }
}

/// `c-native`: gcc -O3 -march=native with fused multiply-adds allowed. Tolerance class.
pub fn native() -> Foreign {
    // SAFETY: as for `c`; only the compiler flags differ.
    unsafe {
        Foreign::new(
            "c-native",
            lh_c_native_julia,
            lh_c_native_diffusion,
            u32::MAX,
            || details(env!("LANCEHEAD_FLAGS_C_NATIVE")),
        )
    }
}

/// `c-openmp`: gcc -O3 -fopenmp -ffp-contract=off, rows in `schedule(guided)`. Exact
/// whatever the thread count: each row is computed the same way by whichever thread.
///
/// Fails when the OpenMP runtime would start more threads than [`threads`] accepts, or
/// `OMP_NUM_THREADS` is not a thread count: libgomp crashed at its first parallel region with
/// `OMP_NUM_THREADS=100000`.
pub fn openmp() -> Result<Foreign> {
    check_openmp_threads()?;
    // SAFETY: as for `c`; OpenMP's threads only write disjoint rows of the caller's buffers
    // and have joined when the call returns; the thread count was checked just above.
    Ok(unsafe {
        Foreign::new(
            "c-openmp",
            lh_c_openmp_julia,
            lh_c_openmp_diffusion,
            u32::MAX,
            openmp_details,
        )
        .with_threads(openmp_threads)
    })
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

fn openmp_details() -> Vec<(&'static str, String)> {
    let mut details = details(env!("LANCEHEAD_FLAGS_C_OPENMP"));
    details.push(("threads", openmp_threads().to_string()));
    details
}

fn details(flags: &str) -> Vec<(&'static str, String)> {
    vec![
        ("compiler", env!("LANCEHEAD_C_COMPILER").to_string()),
        ("flags", flags.to_string()),
    ]
}
