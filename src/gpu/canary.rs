//! The canary: a few Julia pixels and diffusion cells, chosen because reassociating or fusing
//! float operations changes them, run on the instance at construction and compared with the
//! scalar arithmetic on the CPU.
//!
//! It is what makes the exact class follow what was measured rather than what the SPIR-V
//! promises: a driver that ignores `NoContraction` changes these results, and the instance
//! then reports the tolerance class with the count (`Gpu::exactness`). The tests below show,
//! without a device, that each rewrite a driver is known or likely to make changes at least
//! one of them. The agreement tests then check the whole problems.

use std::fmt;

use super::Gpu;
use super::julia::JuliaInput;
use super::shader::Real;
use crate::backend::scalar;
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams, Region};

/// The chaotic Julia problem of issue 11 (`scalar` checksum 2314712), whose pixels the
/// Julia canary is taken from.
pub fn chaotic_julia() -> JuliaParams {
    JuliaParams::new(301, 199, Region::BOOK, (-0.7269, 0.1889), 3000).expect("valid parameters")
}

/// Columns and rows of [`chaotic_julia`] whose product holds, on its diagonal, the six
/// cheapest pixels (counts 521 to 686 of 3000) that change under each rewrite tested below;
/// found by computing every rewrite on every pixel of the problem.
const JULIA_PIXELS: [(usize, usize); 6] = [
    (42, 91),
    (259, 108),
    (141, 61),
    (184, 116),
    (128, 121),
    (223, 89),
];

/// Cells of a canary that differ from scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryDiff {
    pub what: &'static str,
    pub differing: usize,
    pub total: usize,
}

impl fmt::Display for CanaryDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.differing == 0 {
            write!(f, "{} {}", self.total, self.what)
        } else {
            write!(f, "{} of {} {}", self.differing, self.total, self.what)
        }
    }
}

/// The Julia canary's coordinates, and its problem's `c` and `max_iter`.
fn julia_canary() -> (Vec<f64>, Vec<f64>, JuliaParams) {
    let params = chaotic_julia();
    let xs = JULIA_PIXELS.iter().map(|&(i, _)| params.xs()[i]).collect();
    let ys = JULIA_PIXELS.iter().map(|&(_, j)| params.ys()[j]).collect();
    (xs, ys, params)
}

/// The Julia canary on `gpu`, against `scalar`'s pixel function.
pub fn julia<R: Real>(gpu: &Gpu<R>) -> Result<CanaryDiff> {
    let (xs, ys, params) = julia_canary();
    let input = JuliaInput {
        xs: &xs,
        ys: &ys,
        c: params.c(),
        max_iter: params.max_iter(),
    };
    let mut counts = vec![0u32; xs.len() * ys.len()];
    gpu.julia.run::<R>(gpu.context, &input, &mut counts)?;
    let (cr, ci) = params.c();
    let expected = ys
        .iter()
        .flat_map(|&y| xs.iter().map(move |&x| (x, y)))
        .map(|(x, y)| scalar::julia_pixel(x, y, cr, ci, params.max_iter()));
    let differing = expected.zip(&counts).filter(|(e, n)| e != *n).count();
    Ok(CanaryDiff {
        what: "Julia pixels",
        differing,
        total: counts.len(),
    })
}

/// The diffusion canary's problem and grid: 16 x 16, book `d` and `dt` (`k = 0.1` is not a
/// power of two, so `k * lap` rounds), rows of values in [0, 1) (a fused `u + k*lap` changes
/// some by one ULP), rows of random signs and exponents over the whole finite range with
/// subnormals (reassociated sums change them), `-0.0`, and one cell whose `4*u` overflows
/// while `(v + h) - 4*u` would not under a fused `fma(-4, u, v + h)`.
pub fn diffusion_canary() -> (DiffusionParams, ndarray::Array2<f64>) {
    const SIDE: usize = 16;
    let params = DiffusionParams::new(SIDE, SIDE, 0.1, 1.0).expect("valid parameters");
    let mut bits = SplitMix64(2026);
    let mut grid = ndarray::Array2::zeros((SIDE, SIDE));
    for ((i, _), u) in grid.indexed_iter_mut() {
        let b = bits.next();
        *u = match i % 4 {
            0 | 1 => (b >> 11) as f64 / (1u64 << 53) as f64,
            // Any finite f64: sign and mantissa random, biased exponent 0 (subnormal) to 2045.
            2 => f64::from_bits((b & 0x800F_FFFF_FFFF_FFFF) | (((b >> 52) % 2046) << 52)),
            _ if b.is_multiple_of(5) => -0.0,
            _ => {
                let mantissa = (bits.next() >> 11) as f64 / (1u64 << 53) as f64;
                let sign = if b & 1 == 0 { 1.0 } else { -1.0 };
                sign * mantissa * 10f64.powi((b % 601) as i32 - 300)
            }
        };
    }
    // 4 * 0.5e308 overflows; (v + h) = 1e308, so fma(-4, u, v + h) = -1e308 does not.
    grid[(5, 5)] = 0.5e308;
    for cell in [(4, 5), (6, 5), (5, 4), (5, 6)] {
        grid[cell] = 0.25e308;
    }
    (params, grid)
}

/// The diffusion canary on `gpu` (one step), against `scalar`; NaN matches NaN.
pub fn diffusion<R: Real>(gpu: &Gpu<R>) -> Result<CanaryDiff> {
    let (params, init) = diffusion_canary();
    let mut expected = init.clone();
    crate::evolve(&scalar::backend(), &params, expected.view_mut(), 1)?;
    let mut grid = init;
    // Through the pipeline rather than the backend: a canary is not the instance's last call.
    let cells = grid.as_slice_mut().expect("a new array is contiguous");
    gpu.diffusion.run::<R>(gpu.context, &params, cells, 1)?;
    let differing = expected
        .iter()
        .zip(&grid)
        .filter(|(e, g)| e.to_bits() != g.to_bits() && !(e.is_nan() && g.is_nan()))
        .count();
    Ok(CanaryDiff {
        what: "diffusion cells",
        differing,
        total: grid.len(),
    })
}

/// splitmix64: the canary grid's values, the same on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    //! Each rewrite changes the canary, computed on the CPU: the canary can fail.

    use super::*;

    /// The Julia iteration with one rewrite applied.
    #[derive(Debug, Clone, Copy)]
    enum JuliaRewrite {
        /// What lavapipe does to plain WGSL: `t = (zr*zr + cr) - zi*zi`.
        Reassociated,
        /// `zi = fma(2*zr, zi, ci)`.
        FusedZi,
        /// `t = fma(zr, zr, -(zi*zi)) + cr`.
        FusedT,
        /// `t = fma(-zi, zi, zr*zr) + cr`, the other operand fused.
        FusedTOther,
        /// Everything a contracting compiler fuses (as `c-native` does).
        AllFused,
    }

    fn julia_rewritten(rewrite: JuliaRewrite, x: f64, y: f64, c: (f64, f64), max: u32) -> u32 {
        use JuliaRewrite::*;
        let (mut zr, mut zi, (cr, ci)) = (x, y, c);
        let escape = |zr: f64, zi: f64| match rewrite {
            AllFused => zr.mul_add(zr, zi * zi),
            _ => zr * zr + zi * zi,
        };
        let mut n = 0;
        while n < max && escape(zr, zi) < 4.0 {
            let t = match rewrite {
                Reassociated => (zr * zr + cr) - zi * zi,
                FusedT | AllFused => zr.mul_add(zr, -(zi * zi)) + cr,
                FusedTOther => (-zi).mul_add(zi, zr * zr) + cr,
                FusedZi => (zr * zr - zi * zi) + cr,
            };
            zi = match rewrite {
                FusedZi | AllFused => (2.0 * zr).mul_add(zi, ci),
                _ => (2.0 * zr) * zi + ci,
            };
            zr = t;
            n += 1;
        }
        n
    }

    #[test]
    fn every_julia_rewrite_changes_a_canary_pixel() {
        let (xs, ys, params) = julia_canary();
        for rewrite in [
            JuliaRewrite::Reassociated,
            JuliaRewrite::FusedZi,
            JuliaRewrite::FusedT,
            JuliaRewrite::FusedTOther,
            JuliaRewrite::AllFused,
        ] {
            let mut changed = 0;
            for &y in &ys {
                for &x in &xs {
                    let (cr, ci) = params.c();
                    let canonical = scalar::julia_pixel(x, y, cr, ci, params.max_iter());
                    let rewritten = julia_rewritten(rewrite, x, y, params.c(), params.max_iter());
                    changed += usize::from(canonical != rewritten);
                }
            }
            assert!(changed > 0, "{rewrite:?} changes no canary pixel");
            eprintln!(
                "{rewrite:?}: {changed} of {} canary pixels change",
                xs.len() * ys.len()
            );
        }
    }

    /// One diffusion cell with one rewrite applied.
    #[derive(Debug, Clone, Copy)]
    enum CellRewrite {
        /// `fma(k, lap, u)`.
        FusedUpdate,
        /// `fma(-4, u, v + h)`.
        FusedLaplacian,
        /// `v + (h - 4u)`.
        ReassociatedLaplacian,
        /// `((up + left) + (down + right)) - 4u`.
        ReassociatedNeighbours,
        /// `u * (1 - 4k) + k * (v + h)`, distributed.
        Distributed,
    }

    fn cell_rewritten(rewrite: CellRewrite, [up, down, left, right, u]: [f64; 5], k: f64) -> f64 {
        use CellRewrite::*;
        let (v, h) = (up + down, left + right);
        match rewrite {
            FusedUpdate => k.mul_add((v + h) - 4.0 * u, u),
            FusedLaplacian => u + k * (-4.0f64).mul_add(u, v + h),
            ReassociatedLaplacian => u + k * (v + (h - 4.0 * u)),
            ReassociatedNeighbours => u + k * (((up + left) + (down + right)) - 4.0 * u),
            Distributed => u * (1.0 - 4.0 * k) + k * (v + h),
        }
    }

    #[test]
    fn every_diffusion_rewrite_changes_a_canary_cell() {
        let (params, grid) = diffusion_canary();
        let (rows, cols) = params.shape();
        let mut expected = grid.clone();
        crate::evolve(&scalar::backend(), &params, expected.view_mut(), 1).unwrap();
        for rewrite in [
            CellRewrite::FusedUpdate,
            CellRewrite::FusedLaplacian,
            CellRewrite::ReassociatedLaplacian,
            CellRewrite::ReassociatedNeighbours,
            CellRewrite::Distributed,
        ] {
            let mut changed = 0;
            for ((i, j), &e) in expected.indexed_iter() {
                let at = |di: usize, dj: usize| grid[((i + di) % rows, (j + dj) % cols)];
                let cell = [
                    at(rows - 1, 0),
                    at(1, 0),
                    at(0, cols - 1),
                    at(0, 1),
                    at(0, 0),
                ];
                let r = cell_rewritten(rewrite, cell, params.k());
                changed += usize::from(r.to_bits() != e.to_bits() && !(r.is_nan() && e.is_nan()));
            }
            assert!(changed > 0, "{rewrite:?} changes no canary cell");
            eprintln!(
                "{rewrite:?}: {changed} of {} canary cells change",
                grid.len()
            );
        }
    }
}
