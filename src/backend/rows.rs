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

/// How a row kernel may compute `lap = (v + h) - 4c`: as SPEC writes it, or as one fused
/// multiply-add `fma(-4, c, v + h)`, which gives the same bits whenever `4c` cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lap {
    /// Two operations; exact for every input.
    Separate,
    /// One fused operation; only chosen by [`Lap::for_grid`] for a grid where it is exact.
    Fused,
}

/// The largest `|u|` (exclusive) for which a run may fuse: `4 * 2^1021 = 2^1023`, half of
/// `f64::MAX`'s exponent range away from overflow.
pub const FUSED_LIMIT: f64 = f64::from_bits((1021 + 1023) << 52);

impl Lap {
    /// [`Lap::Fused`] when a whole run from `grid` may fuse, else [`Lap::Separate`].
    ///
    /// Why one check of the input suffices: each new value is `c + k * lap`, which for
    /// `0 < k <= 1/4` is the convex combination `(1 - 4k) c + k (up + down + left + right)`
    /// up to the rounding of its six operations, under 8 units in the last place of
    /// `max|u|`; so `max|u|` grows by at most a factor `1 + 2^-50` per step, less than
    /// `1.00001` over `u32::MAX` steps, and `|u| < 2^1021` on input keeps `4|u|` below
    /// `2^1023 * 1.00001 < f64::MAX` for the whole run. A grid with a larger, infinite or NaN
    /// cell, or a `k` outside `(0, 1/4]`, is computed unfused (still exact), not refused.
    pub fn for_grid(params: &DiffusionParams, grid: &[f64]) -> Lap {
        let k_ok = params.k() > 0.0 && params.k() <= crate::problem::diffusion::STABILITY_LIMIT;
        // Chunks folded without a branch so the scan vectorises: one pass at memory speed.
        let small = |c: &[f64]| c.iter().fold(true, |ok, x| ok & (x.abs() < FUSED_LIMIT));
        let chunks = grid.chunks_exact(64);
        let tail_ok = small(chunks.remainder());
        if k_ok && tail_ok && chunks.into_iter().all(small) {
            Lap::Fused
        } else {
            Lap::Separate
        }
    }
}

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

    /// Whether [`RowKernels::diffusion_row_fused`] differs from `diffusion_row` (so that a
    /// caller only scans a grid for [`Lap::for_grid`] when it can gain from it).
    fn fuses(&self) -> bool {
        false
    }

    /// `diffusion_row` computing `lap` as `fma(-4, c, v + h)`, for rows that come from a run
    /// for which [`Lap::for_grid`] said [`Lap::Fused`]; the same bits there.
    fn diffusion_row_fused(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
        self.diffusion_row(k, up, mid, down, out)
    }

    /// `diffusion_row` or `diffusion_row_fused`, as `lap` says.
    fn diffusion_row_as(
        &self,
        lap: Lap,
        k: f64,
        up: &[f64],
        mid: &[f64],
        down: &[f64],
        out: &mut [f64],
    ) {
        match lap {
            Lap::Separate => self.diffusion_row(k, up, mid, down, out),
            Lap::Fused => self.diffusion_row_fused(k, up, mid, down, out),
        }
    }

    /// The [`Lap`] a run of these kernels from `grid` uses.
    fn lap_for(&self, params: &DiffusionParams, grid: &[f64]) -> Lap {
        if self.fuses() {
            Lap::for_grid(params, grid)
        } else {
            Lap::Separate
        }
    }

    /// One diffusion step for rows `first_row..first_row + out.len() / cols`: reads the whole
    /// row-major `src` grid (periodic in both directions) and writes those rows into `out`.
    fn diffusion_rows(
        &self,
        params: &DiffusionParams,
        lap: Lap,
        src: &[f64],
        first_row: usize,
        out: &mut [f64],
    ) {
        for (i, row) in out.chunks_exact_mut(params.cols()).enumerate() {
            let [up, mid, down] = neighbour_rows(src, params, first_row + i);
            self.diffusion_row_as(lap, params.k(), up, mid, down, row);
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
        let lap = self.kernels.lap_for(params, grid);
        ping_pong(grid, scratch, steps, |src, dst| {
            self.kernels.diffusion_rows(params, lap, src, 0, dst)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Lap::for_grid` fuses exactly the grids whose every cell is finite with `|u| < 2^1021`:
    /// the limit itself, the value just below it, either sign, infinities, NaN, subnormals and
    /// signed zeros, at every position of the scan's chunks (a cell in the tail or in a chunk).
    #[test]
    fn the_fusing_check_takes_exactly_the_grids_below_the_limit() {
        let params = DiffusionParams::book(10, 13).unwrap();
        assert_eq!(FUSED_LIMIT, 2f64.powi(1021));
        let below = f64::from_bits(FUSED_LIMIT.to_bits() - 1);
        let cases = [
            (below, Lap::Fused),
            (-below, Lap::Fused),
            (FUSED_LIMIT, Lap::Separate),
            (-FUSED_LIMIT, Lap::Separate),
            (f64::MAX, Lap::Separate),
            (f64::INFINITY, Lap::Separate),
            (f64::NEG_INFINITY, Lap::Separate),
            (f64::NAN, Lap::Separate),
            (f64::from_bits(1), Lap::Fused),
            (-0.0, Lap::Fused),
        ];
        for (value, want) in cases {
            for at in [0, 63, 64, 100, 129] {
                let mut grid = vec![0.5; 130];
                grid[at] = value;
                assert_eq!(Lap::for_grid(&params, &grid), want, "{value:e} at {at}");
            }
        }
        assert_eq!(Lap::for_grid(&params, &[]), Lap::Fused);
    }
}
