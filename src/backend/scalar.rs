//! `scalar`: plain loops on one thread, in SPEC's canonical operation order. The reference
//! that every other backend is checked against.

use crate::backend::rows::{RowKernels, Serial};
use crate::problem::{DiffusionParams, JuliaParams};

/// Plain-loop row kernels: the reference arithmetic.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScalarRows;

/// The `scalar` backend.
pub fn backend() -> Serial<ScalarRows> {
    Serial::new("scalar", ScalarRows)
}

impl RowKernels for ScalarRows {
    fn julia_rows(&self, params: &JuliaParams, first_row: usize, out: &mut [u32]) {
        julia_rows(params, first_row, out);
    }

    fn diffusion_row(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
        diffusion_row(up, mid, down, k, out);
    }
}

/// Julia counts for rows `first_row..`, written row-major into `out`. Always inlined, so
/// `scalar-autovec` compiles these very loops for the instruction sets it dispatches to.
#[inline(always)]
pub fn julia_rows(params: &JuliaParams, first_row: usize, out: &mut [u32]) {
    let (cr, ci) = params.c();
    let max_iter = params.max_iter();
    let ys = &params.ys()[first_row..];
    for (row, &y) in out.chunks_exact_mut(params.width()).zip(ys) {
        for (n, &x) in row.iter_mut().zip(params.xs()) {
            *n = julia_pixel(x, y, cr, ci, max_iter);
        }
    }
}

/// The escape count of one pixel, SPEC §1 to the letter.
#[inline(always)]
pub fn julia_pixel(zr: f64, zi: f64, cr: f64, ci: f64, max_iter: u32) -> u32 {
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

/// One updated cell in the canonical operation order:
/// `v = up + down; h = left + right; lap = (v + h) - 4*c; c + k*lap`.
#[inline(always)]
pub fn diffusion_cell(up: f64, down: f64, left: f64, right: f64, c: f64, k: f64) -> f64 {
    let v = up + down;
    let h = left + right;
    let lap = (v + h) - 4.0 * c;
    c + k * lap
}

/// Rows `i-1`, `i` and `i+1` of the row-major grid `src`, wrapping at the edges.
#[inline]
pub fn neighbour_rows<'a>(src: &'a [f64], params: &DiffusionParams, i: usize) -> [&'a [f64]; 3] {
    let (rows, cols) = params.shape();
    let row = |r: usize| &src[r * cols..(r + 1) * cols];
    let up = if i == 0 { rows - 1 } else { i - 1 };
    let down = if i + 1 == rows { 0 } else { i + 1 };
    [row(up), row(i), row(down)]
}

/// One step of one row, from its neighbour rows; columns wrap at the edges. The two edge
/// cells are done apart so that the loop over the cells between them has no wrapping to do.
/// Always inlined, for `scalar-autovec` (as [`julia_rows`]).
#[inline(always)]
pub fn diffusion_row(up: &[f64], mid: &[f64], down: &[f64], k: f64, out: &mut [f64]) {
    let n = out.len();
    assert!(n >= 1 && up.len() == n && mid.len() == n && down.len() == n);
    let last = n - 1;
    if last == 0 {
        out[0] = diffusion_cell(up[0], down[0], mid[0], mid[0], mid[0], k);
        return;
    }
    out[0] = diffusion_cell(up[0], down[0], mid[last], mid[1], mid[0], k);
    out[last] = diffusion_cell(up[last], down[last], mid[last - 1], mid[0], mid[last], k);
    for x in 1..last {
        out[x] = diffusion_cell(up[x], down[x], mid[x - 1], mid[x + 1], mid[x], k);
    }
}
