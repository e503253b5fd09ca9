//! Row kernels: the unit that threading strategies compose with instruction-level strategies.
//!
//! A [`RowKernels`] implementation (plain loops, SIMD, ...) computes any band of rows of
//! either problem. [`Serial`] runs them on one thread (`scalar`, `simd`); the rayon module's
//! `Parallel` hands bands to a thread pool (`rayon`, `simd-rayon`). So each kernel body is
//! written once, and every combination of the two axes is a backend.

use ndarray::ArrayViewMut2;

use crate::backend::scalar::neighbour_rows;
use crate::backend::{
    Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, julia_output, ping_pong,
};
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams};

/// Computes bands of rows. Implementations must give, for every row, exactly the values the
/// scalar reference gives (SPEC's canonical order, no fused multiply-add).
pub trait RowKernels: Send + Sync {
    /// Julia counts for rows `first_row..first_row + out.len() / width`, written row-major
    /// into `out`.
    fn julia_rows(&self, params: &JuliaParams, first_row: usize, out: &mut [u32]);

    /// One diffusion step of one row from its neighbour rows `up`, `mid` and `down` (the
    /// columns wrap at the edges), written into `out`; all four are `cols` long. The unit
    /// every diffusion strategy is built from.
    fn diffusion_row(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]);

    /// One diffusion step for rows `first_row..first_row + out.len() / cols`: reads the whole
    /// row-major `src` grid (periodic in both directions) and writes those rows into `out`.
    fn diffusion_rows(
        &self,
        params: &DiffusionParams,
        src: &[f64],
        first_row: usize,
        out: &mut [f64],
    ) {
        for (i, row) in out.chunks_exact_mut(params.cols()).enumerate() {
            let [up, mid, down] = neighbour_rows(src, params, first_row + i);
            self.diffusion_row(params.k(), up, mid, down, row);
        }
    }

    /// How these kernels run (e.g. which SIMD instruction set was chosen).
    fn details(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// A one-thread backend built from row kernels.
#[derive(Debug, Clone)]
pub struct Serial<K> {
    name: &'static str,
    kernels: K,
}

impl<K: RowKernels> Serial<K> {
    pub fn new(name: &'static str, kernels: K) -> Self {
        Serial { name, kernels }
    }
}

impl<K: RowKernels> Backend for Serial<K> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn details(&self) -> Vec<(&'static str, String)> {
        self.kernels.details()
    }
}

impl<K: RowKernels> JuliaKernel for Serial<K> {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        self.kernels.julia_rows(params, 0, counts);
        Ok(())
    }
}

impl<K: RowKernels> DiffusionKernel for Serial<K> {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        ping_pong(grid, scratch, steps, |src, dst| {
            self.kernels.diffusion_rows(params, src, 0, dst)
        });
        Ok(())
    }
}
