//! `scalar`: plain loops on one thread, in SPEC's canonical operation order. The reference
//! that every other backend is checked against.

use ndarray::ArrayViewMut2;

use crate::backend::{
    Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, julia_output, ping_pong,
};
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams};

/// The reference backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scalar;

impl Backend for Scalar {
    fn name(&self) -> &'static str {
        "scalar"
    }
}

impl JuliaKernel for Scalar {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        for (row, &y) in counts.chunks_exact_mut(params.width()).zip(params.ys()) {
            julia_row(params, y, row);
        }
        Ok(())
    }
}

impl DiffusionKernel for Scalar {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        let (rows, cols, k) = (params.rows(), params.cols(), params.k());
        ping_pong(grid, scratch, steps, |src, dst| {
            for (i, out) in dst.chunks_exact_mut(cols).enumerate() {
                diffusion_row(src, rows, cols, i, k, out);
            }
        });
        Ok(())
    }
}

/// The escape count of one pixel, SPEC §1 to the letter.
#[inline(always)]
pub(crate) fn julia_pixel(zr: f64, zi: f64, cr: f64, ci: f64, max_iter: u32) -> u32 {
    let (mut zr, mut zi) = (zr, zi);
    let mut n = 0;
    while n < max_iter && zr * zr + zi * zi < 4.0 {
        let t = (zr * zr - zi * zi) + cr;
        zi = (2.0 * zr) * zi + ci;
        zr = t;
        n += 1;
    }
    n
}

/// One row of counts: the pixels at imaginary part `y` for every column.
pub(crate) fn julia_row(params: &JuliaParams, y: f64, out: &mut [u32]) {
    let (cr, ci) = params.c();
    let max_iter = params.max_iter();
    for (n, &x) in out.iter_mut().zip(params.xs()) {
        *n = julia_pixel(x, y, cr, ci, max_iter);
    }
}

/// One updated cell in the canonical operation order:
/// `v = up + down; h = left + right; lap = (v + h) - 4*c; c + k*lap`.
#[inline(always)]
pub(crate) fn diffusion_cell(up: f64, down: f64, left: f64, right: f64, c: f64, k: f64) -> f64 {
    let v = up + down;
    let h = left + right;
    let lap = (v + h) - 4.0 * c;
    c + k * lap
}

/// Row `i` of one step: reads the row-major `rows x cols` grid `src` (periodic in both
/// directions) and writes the updated row into `out`.
pub(crate) fn diffusion_row(
    src: &[f64],
    rows: usize,
    cols: usize,
    i: usize,
    k: f64,
    out: &mut [f64],
) {
    let row = |r: usize| &src[r * cols..(r + 1) * cols];
    let up = row(if i == 0 { rows - 1 } else { i - 1 });
    let down = row(if i + 1 == rows { 0 } else { i + 1 });
    let mid = row(i);
    let last = cols - 1;
    if cols == 1 {
        out[0] = diffusion_cell(up[0], down[0], mid[0], mid[0], mid[0], k);
        return;
    }
    out[0] = diffusion_cell(up[0], down[0], mid[last], mid[1], mid[0], k);
    for j in 1..last {
        out[j] = diffusion_cell(up[j], down[j], mid[j - 1], mid[j + 1], mid[j], k);
    }
    out[last] = diffusion_cell(up[last], down[last], mid[last - 1], mid[0], mid[last], k);
}
