//! Row kernels on rayon's thread pool: `rayon` (plain loops) and `simd-rayon` (SIMD).
//!
//! The book's OpenMP lesson (Example 7-12): Julia rows cost wildly different amounts, so the
//! rows are handed out one at a time and idle threads steal work (rayon's dynamic
//! scheduling, the counterpart of `schedule(guided)`). Diffusion rows all cost the same, so
//! each step splits the grid into a few bands per thread. Threads come from rayon's one global
//! pool, started once, with the thread count checked first ([`global_pool`]); no step spawns
//! a thread. Each row is computed by the same code as in the one-thread backend, so results
//! are identical whatever the thread count.

use std::sync::OnceLock;

use ndarray::ArrayViewMut2;
use rayon::prelude::*;

use crate::backend::rows::RowKernels;
use crate::backend::threads::{self, Form};
use crate::backend::{
    Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, julia_output, ping_pong,
};
use crate::error::{Error, Result};
use crate::problem::{DiffusionParams, JuliaParams};

/// Julia rows handed out at a time: few enough for dynamic scheduling to even out the
/// threads (the book's default image has 1000 rows), enough that a SIMD kernel's pipeline of
/// vectors in flight runs full for most of a task rather than draining at every row's end.
const JULIA_ROWS_PER_TASK: usize = 4;

/// Bands per thread in a diffusion step: a few, so a thread slowed by the OS does not hold
/// up the whole step, yet few enough that each band is long.
const BANDS_PER_THREAD: usize = 4;

/// A multi-threaded backend built from row kernels.
#[derive(Debug, Clone)]
pub struct Parallel<K> {
    name: &'static str,
    kernels: K,
}

/// Rayon's variables for its thread count: the current name, then the deprecated one it
/// still reads.
const RAYON_VARIABLES: [&str; 2] = ["RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS"];

/// Starts rayon's global pool, once per process, with the thread count the environment asks
/// for once it is checked ([`threads`]), or one thread per logical CPU. The pool is then given
/// its count explicitly, so rayon never reads the variables itself (it would panic on a count
/// it cannot start, and silently ignore `0` or `abc`). The answer of the first call stands:
/// the pool cannot be resized.
pub fn global_pool() -> Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        let mut count = None;
        for variable in RAYON_VARIABLES {
            if let Some(counts) =
                threads::from_env(variable, Form::Single).map_err(|e| e.to_string())?
            {
                count = counts.first().copied();
                break;
            }
        }
        let count = count.unwrap_or_else(threads::logical_cpus);
        match rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .build_global()
        {
            Ok(()) => Ok(()),
            // No cause: the pool exists already (the host program built it), and is used as it is.
            Err(e) if std::error::Error::source(&e).is_none() => Ok(()),
            Err(e) => Err(format!("cannot start {count} rayon threads: {e}")),
        }
    });
    started.clone().map_err(|reason| Error::Unavailable {
        name: "rayon".to_string(),
        reason,
    })
}

impl<K: RowKernels> Parallel<K> {
    /// The backend `name`; fails when rayon's pool cannot start as the environment asks
    /// ([`global_pool`]).
    pub fn new(name: &'static str, kernels: K) -> Result<Self> {
        global_pool()?;
        Ok(Parallel { name, kernels })
    }

    pub fn kernels(&self) -> &K {
        &self.kernels
    }
}

impl<K: RowKernels> Backend for Parallel<K> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn details(&self) -> Vec<(&'static str, String)> {
        let mut details = self.kernels.details();
        details.push(("threads", rayon::current_num_threads().to_string()));
        details
    }
    fn cpu_threads(&self) -> Option<usize> {
        Some(rayon::current_num_threads())
    }
}

impl<K: RowKernels> JuliaKernel for Parallel<K> {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        let rows = JULIA_ROWS_PER_TASK;
        counts
            .par_chunks_mut(rows * params.width())
            .enumerate()
            .for_each(|(task, out)| self.kernels.julia_rows(params, task * rows, out));
        Ok(())
    }
}

impl<K: RowKernels> DiffusionKernel for Parallel<K> {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        let bands = rayon::current_num_threads() * BANDS_PER_THREAD;
        let band_rows = params.rows().div_ceil(bands);
        let cols = params.cols();
        let lap = self.kernels.lap_for(params, grid);
        ping_pong(grid, scratch, steps, |src, dst| {
            dst.par_chunks_mut(band_rows * cols)
                .enumerate()
                .for_each(|(b, out)| {
                    self.kernels
                        .diffusion_rows(params, lap, src, b * band_rows, out)
                });
        });
        Ok(())
    }
}
