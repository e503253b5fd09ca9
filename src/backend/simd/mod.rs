//! `simd`, `simd-rayon` and `simd-wavefront`: explicit vectors, bitwise equal to `scalar`.
//!
//! One generic body per kernel ([`julia_band`], [`diffusion_row`]) is written against the
//! [`Lanes`] operations and compiled three times, inside `#[target_feature]` wrappers for
//! AVX-512, AVX2 and the SSE2 baseline (the `matrixmultiply` pattern). The CPU is inspected
//! once, when the backend is built, and the widest path it supports is used; so one binary is
//! fast on this machine, runs on any x86-64, and runs under valgrind (which hides AVX-512).
//! `LANCEHEAD_SIMD_PATH=avx512|avx2|sse2` forces a path (the tests run each one the CPU has).
//!
//! Julia: each vector holds `LANES` pixels; `SLOTS` vectors are in flight at once so the
//! multiply-add latency chain of one is hidden behind the others. A lane keeps counting while
//! its mask is set and its mask stays clear once `|z|^2 < 4` fails, so every lane stops at
//! exactly the scalar count; whether a whole vector is done is tested only every
//! `CHECK_EVERY` iterations, and a finished vector is refilled with the next pixels of the
//! band at once, so no slot idles while a slow neighbour finishes.
//!
//! Diffusion: a whole row, wrapping edges included, is computed `LANES` cells at a time from
//! loads of its three neighbour rows aligned to `mid` (and so to each other when the grid's
//! rows are a whole number of vectors long), the left and right neighbours shifted in from
//! the vectors beside each one (AVX-512) or loaded unaligned (AVX2, SSE2); the stores are
//! aligned too when `out` shares `mid`'s alignment. (`rows::RowKernels` turns rows into steps
//! of a band; the wavefront backend into several steps per pass over memory.)

mod lanes;

use std::fmt;

use lanes::Lanes;

use crate::backend::rows::RowKernels;
use crate::backend::scalar;
use crate::error::{Error, Result};
use crate::problem::JuliaParams;

/// The environment variable that forces a SIMD path.
pub const PATH_VARIABLE: &str = "LANCEHEAD_SIMD_PATH";

/// Vectors in flight per thread in the Julia kernel.
const SLOTS: usize = 4;
/// Iterations between two tests of whether a Julia vector has finished.
const CHECK_EVERY: u32 = 8;

/// An instruction set the SIMD kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdPath {
    /// AVX-512F: eight f64 lanes, mask registers.
    Avx512,
    /// AVX2 (with FMA): four f64 lanes.
    Avx2,
    /// `wide`'s baseline build: SSE2 on x86-64, whatever `wide` picks elsewhere.
    Baseline,
}

impl SimdPath {
    /// Every path, widest first.
    pub const ALL: [SimdPath; 3] = [SimdPath::Avx512, SimdPath::Avx2, SimdPath::Baseline];

    /// The name `LANCEHEAD_SIMD_PATH` and `lancehead backends` use.
    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Avx512 => "avx512",
            SimdPath::Avx2 => "avx2",
            SimdPath::Baseline => "sse2",
        }
    }

    /// f64 lanes per vector.
    pub fn lanes(self) -> usize {
        match self {
            SimdPath::Avx512 => 8,
            SimdPath::Avx2 | SimdPath::Baseline => 4,
        }
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            // Every AVX2 CPU made has FMA too; the diffusion kernel's fused form needs it.
            SimdPath::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            SimdPath::Avx512 | SimdPath::Avx2 => false,
            SimdPath::Baseline => true,
        }
    }

    /// The widest path this CPU supports.
    pub fn detect() -> SimdPath {
        Self::ALL
            .into_iter()
            .find(|p| p.supported())
            .unwrap_or(SimdPath::Baseline)
    }

    fn from_name(name: &str) -> Option<SimdPath> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for SimdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} x f64)", self.name(), self.lanes())
    }
}

/// SIMD row kernels on one chosen path.
#[derive(Debug, Clone, Copy)]
pub struct SimdRows {
    path: SimdPath,
}

impl SimdRows {
    /// The widest path this CPU supports, or the one `LANCEHEAD_SIMD_PATH` names.
    pub fn new() -> Result<Self> {
        match std::env::var(PATH_VARIABLE) {
            Ok(name) if !name.is_empty() => {
                let path = SimdPath::from_name(&name).ok_or_else(|| {
                    Error::invalid(PATH_VARIABLE, &name, "one of avx512, avx2, sse2")
                })?;
                Self::with_path(path)
            }
            _ => Ok(SimdRows {
                path: SimdPath::detect(),
            }),
        }
    }

    /// Kernels on `path`; unavailable when this CPU lacks it.
    pub fn with_path(path: SimdPath) -> Result<Self> {
        if path.supported() {
            Ok(SimdRows { path })
        } else {
            Err(Error::Unavailable {
                name: "simd".into(),
                reason: format!("this CPU does not support the {} path", path.name()),
            })
        }
    }

    pub fn path(&self) -> SimdPath {
        self.path
    }
}

/// Calls `$generic::<LanesType, ...>($args)` compiled for the path `$path` names.
macro_rules! on_path {
    ($path:expr, $generic:ident, ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,fma")]
        fn avx512(args: Args<'_, '_>) {
            $generic::<lanes::Avx512>(args)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn avx2(args: Args<'_, '_>) {
            $generic::<lanes::Avx2>(args)
        }
        let args = ($($arg),*);
        match $path {
            // SAFETY: a `SimdRows` holds only a path that `supported()` confirmed.
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 => unsafe { avx512(args) },
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2 => unsafe { avx2(args) },
            _ => $generic::<wide::f64x4>(args),
        }
    }};
}

impl RowKernels for SimdRows {
    fn julia_rows(&self, params: &JuliaParams, first_row: usize, out: &mut [u32]) {
        type Args<'a, 'b> = (&'a JuliaParams, usize, &'b mut [u32]);
        on_path!(self.path, julia_band, (params, first_row, out))
    }

    fn diffusion_row(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
        type Args<'a, 'b> = (f64, &'a [f64], &'a [f64], &'a [f64], &'b mut [f64]);
        on_path!(self.path, diffusion_row_separate, (k, up, mid, down, out))
    }

    fn fuses(&self) -> bool {
        true
    }

    fn diffusion_row_fused(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
        type Args<'a, 'b> = (f64, &'a [f64], &'a [f64], &'a [f64], &'b mut [f64]);
        on_path!(self.path, diffusion_row_fused, (k, up, mid, down, out))
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        vec![("path", self.path.to_string())]
    }
}

/// One vector of pixels in flight: where its pixels go, their state, and how far it got.
#[derive(Clone, Copy)]
struct Slot<V: Lanes> {
    /// Index in the band's output of the first pixel.
    start: usize,
    /// Pixels in use (0: the slot is empty; fewer than `LANES` at the band's end).
    len: usize,
    zr: V,
    zi: V,
    count: V,
    active: V::Mask,
    iterations: u32,
}

/// Hands out the pixels of a band, `LANES` at a time, in row-major order.
struct Pixels<'a> {
    xs: &'a [f64],
    /// `ys` from the band's first row on.
    ys: &'a [f64],
    /// Output index of the next pixel, and the band's pixel count.
    next: usize,
    total: usize,
    /// Row (within the band) and column of the next pixel.
    row: usize,
    col: usize,
}

impl Pixels<'_> {
    /// Loads the next pixels into `slot`, or empties it when none are left.
    #[inline(always)]
    fn refill<V: Lanes>(&mut self, slot: &mut Slot<V>) {
        let len = V::LANES.min(self.total - self.next);
        slot.len = len;
        if len == 0 {
            return;
        }
        slot.start = self.next;
        slot.count = V::splat(0.0);
        slot.active = V::all_lanes();
        slot.iterations = 0;
        self.next += len;
        if len == V::LANES && self.col + len <= self.xs.len() {
            // The common case, a whole vector inside one row: a load and a broadcast instead of
            // the lane-by-lane gather below. A book vector lives ~48 iterations, so per-vector
            // costs show: this and `store_counts` took the book problem (avx512, one thread,
            // Xeon model 167) from 17.4-20.0 to 15.0-15.6 ms (`examples/time_backend` minima).
            slot.zr = V::load(&self.xs[self.col..]);
            slot.zi = V::splat(self.ys[self.row]);
            self.col += len;
            if self.col == self.xs.len() && self.next < self.total {
                (self.row, self.col) = (self.row + 1, 0);
            }
            return;
        }
        let first = self.next - len;
        let (mut x, mut y) = ([0.0; 16], [0.0; 16]);
        for lane in 0..V::LANES {
            // Lanes past the band's end repeat its last pixel; their counts are dropped.
            x[lane] = self.xs[self.col];
            y[lane] = self.ys[self.row];
            if lane < len && first + lane + 1 < self.total {
                self.col += 1;
                if self.col == self.xs.len() {
                    (self.row, self.col) = (self.row + 1, 0);
                }
            }
        }
        slot.zr = V::load(&x);
        slot.zi = V::load(&y);
    }
}

/// Julia counts for a band of rows (`out` holds whole rows from `first_row` on).
#[inline(always)]
fn julia_band<V: Lanes>((params, first_row, out): (&JuliaParams, usize, &mut [u32])) {
    let max_iter = params.max_iter();
    if max_iter == 0 {
        out.fill(0);
        return;
    }
    let (xs, ys) = (params.xs(), &params.ys()[first_row..]);
    let (cr, ci) = params.c();
    // `black_box` hides the 2.0 from the optimiser, which would otherwise turn `2.0 * zr` into
    // `zr + zr`: the same bits, but on the adder, which this loop keeps busiest (the
    // multiplier has room to spare; measured: AVX2 path 24 -> 20 ms on the book's problem).
    let two = V::splat(std::hint::black_box(2.0));
    let (cr, ci, four) = (V::splat(cr), V::splat(ci), V::splat(4.0));

    let mut pixels = Pixels {
        xs,
        ys,
        next: 0,
        total: out.len(),
        row: 0,
        col: 0,
    };

    let empty = Slot {
        start: 0,
        len: 0,
        zr: V::splat(0.0),
        zi: V::splat(0.0),
        count: V::splat(0.0),
        active: V::all_lanes(),
        iterations: 0,
    };
    let mut slots = [empty; SLOTS];
    for slot in &mut slots {
        pixels.refill(slot);
    }

    while slots.iter().any(|s| s.len > 0) {
        // Run every slot for as many iterations as the least advanced one may still do.
        let block = slots
            .iter()
            .filter(|s| s.len > 0)
            .map(|s| max_iter - s.iterations)
            .min()
            .map_or(0, |left| left.min(CHECK_EVERY));
        for _ in 0..block {
            for s in &mut slots {
                let zr2 = s.zr.mul(s.zr);
                let zi2 = s.zi.mul(s.zi);
                s.active = zr2.add(zi2).lt_and(four, s.active);
                s.count = s.count.add_one(s.active);
                let t = zr2.sub(zi2).add(cr);
                s.zi = two.mul(s.zr).mul(s.zi).add(ci);
                s.zr = t;
            }
        }
        for s in &mut slots {
            if s.len == 0 {
                continue;
            }
            s.iterations += block;
            if s.iterations == max_iter || !V::any(s.active) {
                let out = &mut out[s.start..s.start + s.len];
                if s.len == V::LANES {
                    s.count.store_counts(out);
                } else {
                    lanes::store_counts_by_lane(s.count, out);
                }
                pixels.refill(s);
            }
        }
    }
}

/// [`diffusion_row`] with `(v + h) - 4c` as two operations.
#[inline(always)]
fn diffusion_row_separate<V: Lanes>(args: (f64, &[f64], &[f64], &[f64], &mut [f64])) {
    diffusion_row::<V, false>(args)
}

/// [`diffusion_row`] with `(v + h) - 4c` as one fused operation: only for rows whose cells
/// all have `|c| < 2^1021` (`rows::Lap::Fused`), where it gives the same bits.
#[inline(always)]
fn diffusion_row_fused<V: Lanes>(args: (f64, &[f64], &[f64], &[f64], &mut [f64])) {
    diffusion_row::<V, true>(args)
}

/// One step of a whole row in the canonical order, `LANES` cells at a time, the columns
/// wrapping at the edges (the contract of `RowKernels::diffusion_row`).
///
/// The vectors start at the first cell of `mid` on a vector boundary, so the loads of `up`,
/// `mid` and `down` are aligned when those rows are alike, and the stores when `out` is too.
/// A cell's left and right neighbours come either from unaligned loads or, where that is
/// faster ([`Lanes::SHIFT_NEIGHBOURS`]), shifted in from the vectors before and after it,
/// which are in registers anyway. The wrapping neighbours of the row's first and last cells
/// are shifted in from a broadcast, so no cell takes a scalar path. When `mid` does not start
/// on a vector boundary, one unaligned vector at each end covers the cells before the first
/// boundary and after the last, writing a few cells twice with the very same values.
#[inline(always)]
fn diffusion_row<V: Lanes, const FUSED: bool>(
    (k, up, mid, down, out): (f64, &[f64], &[f64], &[f64], &mut [f64]),
) {
    let n = out.len();
    assert!(up.len() == n && mid.len() == n && down.len() == n);
    let lanes = V::LANES;
    if n < 2 * lanes {
        return scalar::diffusion_row(up, mid, down, k, out);
    }
    let step = RowStep::<V, FUSED> {
        k: V::splat(k),
        four: V::splat(4.0),
        up,
        down,
    };
    // SAFETY (every `load` and `update` below): the vector fits in the row, x + LANES <= n,
    // and the loads at x - 1 and x + 1 have 1 <= x and x + 1 + LANES <= n; all rows are n long.
    unsafe {
        let misalign = (mid.as_ptr() as usize / std::mem::size_of::<f64>()) % lanes;
        let first = (lanes - misalign) % lanes;
        if first != 0 {
            let c = load(mid, 0);
            step.update(out, 0, V::left_of(V::splat(mid[n - 1]), c), c, load(mid, 1));
        }
        // The first whole vector: its left neighbour wraps when it starts the row.
        let mut x = first;
        let mut prev = V::splat(mid[(x + n - 1) % n]);
        let mut cur = load(mid, x);
        if x + 2 * lanes <= n {
            let next = load(mid, x + lanes);
            step.update(out, x, V::left_of(prev, cur), cur, V::right_of(cur, next));
            (prev, cur, x) = (cur, next, x + lanes);
            if V::SHIFT_NEIGHBOURS {
                while x + 2 * lanes <= n {
                    let next = load(mid, x + lanes);
                    step.update(out, x, V::left_of(prev, cur), cur, V::right_of(cur, next));
                    (prev, cur, x) = (cur, next, x + lanes);
                }
            } else {
                while x + 2 * lanes <= n {
                    let (left, right) = (load(mid, x - 1), load(mid, x + 1));
                    let c = if V::CENTRE_FROM_NEIGHBOURS {
                        V::centre_of(left, right)
                    } else {
                        load(mid, x)
                    };
                    step.update(out, x, left, c, right);
                    x += lanes;
                }
                (prev, cur) = (load(mid, x - lanes), load(mid, x));
            }
        }
        // The last whole vector: its right neighbour wraps when it ends the row.
        let next = V::splat(mid[(x + lanes) % n]);
        step.update(out, x, V::left_of(prev, cur), cur, V::right_of(cur, next));
        if x + lanes != n {
            let x = n - lanes;
            let c = load(mid, x);
            let right = V::right_of(c, V::splat(mid[0]));
            step.update(out, x, load(mid, x - 1), c, right);
        }
    }
}

/// # Safety
/// `x + LANES <= row.len()`.
#[inline(always)]
unsafe fn load<V: Lanes>(row: &[f64], x: usize) -> V {
    unsafe { V::load_ptr(row.as_ptr().add(x)) }
}

/// The operands of one row's step that do not change along the row.
struct RowStep<'a, V, const FUSED: bool> {
    k: V,
    four: V,
    up: &'a [f64],
    down: &'a [f64],
}

impl<V: Lanes, const FUSED: bool> RowStep<'_, V, FUSED> {
    /// Writes the new values of cells `x .. x + LANES`, whose centres are `c` and neighbours
    /// in the row `left` and `right`.
    ///
    /// # Safety
    /// `x + LANES <= out.len()` and `<= self.up.len()`, `<= self.down.len()`.
    #[inline(always)]
    unsafe fn update(&self, out: &mut [f64], x: usize, left: V, c: V, right: V) {
        unsafe {
            let v = load::<V>(self.up, x).add(load(self.down, x));
            let h = left.add(right);
            let s = v.add(h);
            // FUSED: `fma(-4, c, s)` is `s - 4c` bit for bit here, `4c` being exact for the
            // `|c| < 2^1021` that `Lap::Fused` guarantees (proof at `Lanes::sub_four_times`).
            let lap = if FUSED {
                s.sub_four_times(c, self.four)
            } else {
                s.sub(self.four.mul(c))
            };
            c.add(self.k.mul(lap)).store_ptr(out.as_mut_ptr().add(x))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every width up to four vectors past the widest path, at every alignment of the row's
    /// start: the vector row kernel gives the scalar bits on each path this CPU has.
    #[test]
    fn diffusion_row_matches_scalar_at_every_width_and_alignment() {
        // Values of mixed sign and magnitude, so a wrong neighbour shows in the result.
        let value = |i: usize| ((i * 7919 % 1009) as f64 - 504.0) * 1e-3 + (i % 3) as f64;
        let k = 0.1;
        for path in SimdPath::ALL {
            let Ok(rows) = SimdRows::with_path(path) else {
                eprintln!(
                    "SKIPPED simd path {}: not supported by this CPU",
                    path.name()
                );
                continue;
            };
            for n in 1..=4 * 8 + 3 {
                for offset in 0..8 {
                    let buf: Vec<Vec<f64>> = (0..3)
                        .map(|r| (0..n + offset).map(|i| value(i + 100 * r)).collect())
                        .collect();
                    let [up, mid, down] = [0, 1, 2].map(|r| &buf[r][offset..]);
                    // `out` has guard cells on both sides, which must stay 0.0.
                    let (mut want, mut got) = (vec![0.0; n + 16], vec![0.0; n + 16]);
                    scalar::diffusion_row(up, mid, down, k, &mut want[offset..offset + n]);
                    rows.diffusion_row(k, up, mid, down, &mut got[offset..offset + n]);
                    let differ: Vec<usize> = (0..n + 16)
                        .filter(|&i| want[i].to_bits() != got[i].to_bits())
                        .collect();
                    assert!(
                        differ.is_empty(),
                        "path {}, width {n}, offset {offset}: {} cells differ, first at {} \
                         (guard cells outside {offset}..{})",
                        path.name(),
                        differ.len(),
                        differ[0],
                        offset + n
                    );
                }
            }
        }
    }

    /// Rows built to break the fused form `fma(-4, c, v + h)` wherever it is not the
    /// canonical `(v + h) - 4c`: cells up to just below the limit `Lap::Fused` allows, the whole
    /// exponent range with random signs, subnormals only, signed zeros, and smooth rows near
    /// 1.0 (where `v + h` and `4c` cancel). On each of them the fused row kernel of every path
    /// this CPU has gives the scalar bits, at widths and alignments that reach every code path.
    #[test]
    fn fused_row_matches_scalar_on_rows_built_to_break_it() {
        use crate::backend::rows::FUSED_LIMIT;
        use crate::problem::stress::Rng;
        let mut rng = Rng::new(1021);
        let below_limit = f64::from_bits(FUSED_LIMIT.to_bits() - 1);
        type Value = Box<dyn Fn(&mut Rng) -> f64>;
        let kinds: [(&str, Value); 6] = [
            (
                "just below the limit",
                Box::new(move |r: &mut Rng| {
                    let sign = if r.below(2) == 0 { 1.0 } else { -1.0 };
                    sign * f64::from_bits(below_limit.to_bits() - r.below(1 << 40))
                }),
            ),
            (
                "whole exponent range",
                Box::new(|r: &mut Rng| r.any_magnitude(1020)),
            ),
            ("subnormals", Box::new(|r: &mut Rng| r.any_magnitude(-1022))),
            (
                "signed zeros",
                Box::new(|r: &mut Rng| if r.below(2) == 0 { 0.0 } else { -0.0 }),
            ),
            (
                "near one",
                Box::new(|r: &mut Rng| 1.0 + (r.unit() - 0.5) * 1e-12),
            ),
            (
                "mixed",
                Box::new(move |r: &mut Rng| match r.below(4) {
                    0 => 0.0,
                    1 => -0.0,
                    2 => r.any_magnitude(1020),
                    _ => f64::from_bits(below_limit.to_bits() - r.below(1 << 20)),
                }),
            ),
        ];
        for path in SimdPath::ALL {
            let Ok(rows) = SimdRows::with_path(path) else {
                eprintln!(
                    "SKIPPED simd path {}: not supported by this CPU",
                    path.name()
                );
                continue;
            };
            for (kind, value) in &kinds {
                for n in [1, 3, 8, 9, 16, 17, 31, 64, 67] {
                    for offset in 0..8 {
                        let buf: Vec<Vec<f64>> = (0..3)
                            .map(|_| (0..n + offset).map(|_| value(&mut rng)).collect())
                            .collect();
                        let [up, mid, down] = [0, 1, 2].map(|r| &buf[r][offset..]);
                        for k in [0.1, 0.25, 1e-300] {
                            let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
                            scalar::diffusion_row(up, mid, down, k, &mut want);
                            rows.diffusion_row_fused(k, up, mid, down, &mut got);
                            for x in 0..n {
                                assert_eq!(
                                    want[x].to_bits(),
                                    got[x].to_bits(),
                                    "path {}, {kind}, width {n}, offset {offset}, k {k}, cell \
                                     {x}: scalar {:e}, fused {:e}",
                                    path.name(),
                                    want[x],
                                    got[x]
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// The guard is needed: where `4c` overflows, the fused row kernel of a path with FMA
    /// does give other values than `scalar` (which is why `Lap::for_grid` routes such grids
    /// to the unfused kernel; tests/agreement.rs checks the backends on the stress suite's
    /// overflow grid).
    #[test]
    fn fused_row_differs_from_scalar_where_four_c_overflows() {
        // Cells of 5e307 (4c = 2e308 overflows) between neighbours of 3.75e307, so that
        // `v + h = 1.5e308`: scalar's `lap` is `1.5e308 - inf = -inf`, the fused one the
        // finite -5e307.
        let n = 32;
        let mid: Vec<f64> = (0..n)
            .map(|x| if x % 2 == 0 { 5e307 } else { 3.75e307 })
            .collect();
        let side = vec![3.75e307; n];
        for path in [SimdPath::Avx512, SimdPath::Avx2] {
            let Ok(rows) = SimdRows::with_path(path) else {
                eprintln!(
                    "SKIPPED simd path {}: not supported by this CPU",
                    path.name()
                );
                continue;
            };
            let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
            scalar::diffusion_row(&side, &mid, &side, 0.1, &mut want);
            rows.diffusion_row_fused(0.1, &side, &mid, &side, &mut got);
            assert!(
                want[0] == f64::NEG_INFINITY && got[0].is_finite(),
                "{want:?} {got:?}"
            );
            let differ = (0..n)
                .filter(|&x| want[x].to_bits() != got[x].to_bits())
                .count();
            assert!(differ > 0, "path {}: {want:?} vs {got:?}", path.name());
            let mut unfused = vec![0.0; n];
            rows.diffusion_row(0.1, &side, &mid, &side, &mut unfused);
            assert!(
                want.iter()
                    .zip(&unfused)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
    }

    /// The Julia kernel of every path this CPU has (each counts its own way: f64 lanes on
    /// SSE2 and AVX-512, integer lanes on AVX2) gives the scalar counts, on the book's region
    /// and constant at a size whose band ends in a partial vector, and with `max_iter` 0, 1
    /// and one that is not a multiple of the check interval.
    #[test]
    fn julia_rows_match_scalar_on_every_path() {
        use crate::backend::scalar::ScalarRows;
        use crate::problem::julia::BOOK_C;
        use crate::problem::{JuliaParams, Region};
        // Widths that are and are not whole vectors (rows ending inside a vector, vectors
        // spanning several rows), and bands that start past the first row.
        for ((width, height), max_iter) in [(61, 37), (64, 9), (3, 5), (1, 4)]
            .into_iter()
            .flat_map(|shape| [0, 1, 13, 300].map(|max_iter| (shape, max_iter)))
        {
            let params = JuliaParams::new(width, height, Region::BOOK, BOOK_C, max_iter).unwrap();
            let mut want = vec![0u32; width * height];
            ScalarRows.julia_rows(&params, 0, &mut want);
            for path in SimdPath::ALL {
                let Ok(rows) = SimdRows::with_path(path) else {
                    eprintln!(
                        "SKIPPED simd path {}: not supported by this CPU",
                        path.name()
                    );
                    continue;
                };
                let mut got = vec![u32::MAX; width * height];
                let (top, rest) = got.split_at_mut(2 * width);
                rows.julia_rows(&params, 0, top);
                rows.julia_rows(&params, 2, rest);
                assert!(
                    want == got,
                    "path {}, {width}x{height}, max_iter {max_iter}",
                    path.name()
                );
            }
        }
    }
}
