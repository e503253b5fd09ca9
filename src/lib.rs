//! # Lancehead
//!
//! The two kernels that *High Performance Python* (Gorelick & Ozsvald) uses to teach
//! performance, the **Julia set** and **2D diffusion**, behind one trait ([`Backend`]) with
//! many compute strategies, each checked against the `scalar` reference and measured side by
//! side.
//!
//! ```
//! use lancehead::{JuliaParams, registry};
//!
//! let backend = registry::create("scalar")?;
//! let params = JuliaParams::book();
//! let mut counts = params.new_counts()?;
//! backend.julia(&params, counts.view_mut())?;
//! assert_eq!(lancehead::problem::julia::checksum(counts.view()), 33_219_980);
//! # Ok::<(), lancehead::Error>(())
//! ```

pub mod agreement;
pub mod backend;
pub mod error;
#[cfg(any(feature = "c-ref", feature = "fortran-ref", feature = "capi"))]
pub mod ffi;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "harness")]
pub mod harness;
pub mod io;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod problem;
#[cfg(feature = "harness")]
pub mod report;
pub mod workload;

pub use backend::registry;
pub use backend::{Backend, DiffusionKernel, JuliaKernel, TransferTimes};
pub use error::{Error, Result};
pub use problem::{DiffusionParams, JuliaParams, Kernel, Region};
pub use workload::Workload;

use ndarray::{Array2, ArrayViewMut2};

/// Computes the Julia set of `params` with `backend` into a new counts array.
pub fn julia(backend: &dyn Backend, params: &JuliaParams) -> Result<Array2<u32>> {
    let mut counts = params.new_counts()?;
    backend.julia(params, counts.view_mut())?;
    Ok(counts)
}

/// Advances `grid` by `steps` with `backend`, allocating the scratch grid itself. Timed code
/// should preallocate the scratch and call [`DiffusionKernel::evolve`] directly.
pub fn evolve(
    backend: &dyn Backend,
    params: &DiffusionParams,
    grid: ArrayViewMut2<'_, f64>,
    steps: u32,
) -> Result<()> {
    let mut scratch = params.new_grid()?;
    backend.evolve(params, grid, scratch.view_mut(), steps)
}
