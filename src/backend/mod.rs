//! The backend trait that every compute strategy implements, and the backends themselves.
//!
//! Each backend lives in its own module; [`registry`] knows which ones this build contains.

//! Modules are named after the backends they hold: `ndarray` (`ndarray-alloc`, `ndarray`),
//! `rayon` (`rayon`, `simd-rayon`), `simd_wavefront`; `c`, `fortran`, `gpu` and `mpi` sit
//! beside this module, as the FFI and device code they need is larger than a backend.

#[cfg(feature = "ndarray")]
pub mod ndarray;
#[cfg(feature = "rayon")]
pub mod rayon;
pub mod registry;
pub mod rows;
pub mod scalar;
pub mod scalar_autovec;
#[cfg(feature = "simd")]
pub mod simd;
#[cfg(feature = "rayon")]
pub mod simd_wavefront;
#[cfg(feature = "rayon")]
pub mod team;
pub mod threads;

// `::ndarray`: the crate, not this module's child of the same name.
use ::ndarray::ArrayViewMut2;

use crate::error::{Error, Result};
use crate::problem::{DiffusionParams, JuliaParams, Kernel};
use registry::Agreement;

/// Computes the Julia set of SPEC §1.
pub trait JuliaKernel {
    /// Writes the escape count of every pixel of `params` into `counts` (`height x width`,
    /// row 0 the top edge). `counts` must have the problem's shape and be contiguous and
    /// row-major ([`julia_output`] checks both); the call allocates nothing.
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()>;
}

/// Advances the diffusion equation of SPEC §1.
pub trait DiffusionKernel {
    /// Advances `grid` by `steps` explicit-Euler steps in place. `scratch` is workspace of the
    /// same shape, owned by the caller so that the call allocates nothing; its contents on
    /// return are unspecified. Both must match the problem's shape and be contiguous and
    /// row-major ([`diffusion_buffers`] checks both).
    ///
    /// Taking the step count (rather than one step per call) lets a backend keep the data on
    /// a GPU for the whole run or do several steps per pass over memory.
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()>;
}

/// One compute strategy for both of the book's kernels.
///
/// # Design
/// - **One trait, two kernels.** The comparison is the product: every strategy (plain loops,
///   array expressions, explicit SIMD, threads, GPU, C and Fortran over FFI) implements both
///   kernels behind the same calls, so the harness, the CLI and the tests treat them alike.
/// - **Object safe**, so the registry can hand out `Box<dyn Backend>` chosen at run time by
///   name; `Send + Sync`, so one instance can be shared by threads and a backend may hold
///   expensive state (a thread pool, a GPU device) built once and reused for every call.
/// - **Caller-owned, preallocated buffers** (ndarray views, so they may be borrowed from any
///   memory the caller owns): a timed call allocates nothing unless allocation is the point
///   of the strategy (`ndarray-alloc`).
/// - **Exactness is part of the contract**: see [`Agreement`]. An exact backend gives the
///   canonical result of SPEC §1 bit for bit for every finite input; a tolerance backend says
///   so. The class belongs to the instance, because for some strategies it depends on how the
///   instance runs (the GPU backend is exact only on a driver path that forbids reassociation).
pub trait Backend: JuliaKernel + DiffusionKernel + Send + Sync {
    /// The stable name of SPEC §2 (`scalar`, `simd`, ...).
    fn name(&self) -> &'static str;

    /// How this instance's results for `kernel` must agree with `scalar` (SPEC §2). Most
    /// backends' class follows from what they are, the registry's table; one whose class
    /// depends on how this instance runs overrides this and says why in [`details`](Self::details).
    fn agreement(&self, kernel: Kernel) -> Agreement {
        // An unknown name is held to the strictest class.
        registry::info(self.name()).map_or(Agreement::Exact, |info| info.agreement(kernel))
    }

    /// Facts about how this instance runs (SIMD path, thread count, GPU adapter, ...), as
    /// `(key, value)` pairs for `lancehead backends`.
    fn details(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// For backends that move data to and from a device (GPU): how the most recent kernel
    /// call on this instance split its time (the book's "cost of the memory copies" lesson).
    /// `None` for backends that compute in host memory.
    fn last_transfer_times(&self) -> Option<TransferTimes> {
        None
    }

    /// The CPU threads this instance computes with (`None`: it computes on a device). The
    /// harness sets each figure against the ceiling of that many cores.
    fn cpu_threads(&self) -> Option<usize> {
        Some(1)
    }

    /// How many diffusion steps of `params` one pass over the grid in memory advances: 1 for
    /// a sweep per step, more for temporally blocked strategies. The harness divides the
    /// memory traffic of a step by it.
    fn steps_per_pass(&self, params: &DiffusionParams) -> u32 {
        let _ = params;
        1
    }
}

/// Where a device backend's kernel call spent its time, measured on the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferTimes {
    /// Copying inputs to the device (seconds).
    pub upload: f64,
    /// Running the kernels, to completion (seconds).
    pub compute: f64,
    /// Copying results back to the host (seconds).
    pub read_back: f64,
}

/// Checks a counts buffer for `params` and returns it as one row-major slice.
pub fn julia_output<'a>(
    params: &JuliaParams,
    counts: ArrayViewMut2<'a, u32>,
) -> Result<&'a mut [u32]> {
    contiguous(counts, params.shape(), "counts")
}

/// Checks a grid and its scratch for `params` and returns both as row-major slices.
pub fn diffusion_buffers<'a, 'b>(
    params: &DiffusionParams,
    grid: ArrayViewMut2<'a, f64>,
    scratch: ArrayViewMut2<'b, f64>,
) -> Result<(&'a mut [f64], &'b mut [f64])> {
    Ok((
        contiguous(grid, params.shape(), "grid")?,
        contiguous(scratch, params.shape(), "scratch")?,
    ))
}

fn contiguous<'a, T>(
    view: ArrayViewMut2<'a, T>,
    expected: (usize, usize),
    what: &'static str,
) -> Result<&'a mut [T]> {
    let found = view.dim();
    if found != expected {
        return Err(Error::ShapeMismatch {
            what,
            found,
            expected,
        });
    }
    view.into_slice().ok_or(Error::NotContiguous { what })
}

/// Runs `steps` one-step sweeps `step(src, dst)` alternating between `grid` and `scratch`,
/// and leaves the result in `grid` (one copy at the end when `steps` is odd).
pub(crate) fn ping_pong(
    grid: &mut [f64],
    scratch: &mut [f64],
    steps: u32,
    mut step: impl FnMut(&[f64], &mut [f64]),
) {
    for s in 0..steps {
        if s % 2 == 0 {
            step(grid, scratch);
        } else {
            step(scratch, grid);
        }
    }
    if steps % 2 == 1 {
        grid.copy_from_slice(scratch);
    }
}
